"""No input makes the portal fail: every route, as anyone, with junk in the path, the query,
the form, the JSON body and the headers, is answered below 500, and a JSON client is answered
with problem details.

Routes come from the app's introspector, so a new route is swept without touching this file;
form field names come from the views' own forms (rendered pages) and from the names the views
read. Junk values are spread over the personas rather than crossed with every one of them.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
import webtest
from pyramid.security import NO_PERMISSION_REQUIRED

from portal.api.auth import create_api_key
from portal.clock import clock as app_clock
from portal.documents.kinds import document_issuer
from portal.identity.models import Organisation
from portal.receipts.models import Receipt
from portal.sandbox.notifier import signature_header
from tests import factories
from tests.conftest import start_login
from tests.functional.api.conftest import Snapshot
from tests.functional.test_route_permissions import route_views
from tests.sandbox.conftest import SECRET

PERSONAS = [None, "citizen-ana", "rep-olga", "clerk-clara", "clerk-dan", "admin-ada", "buyer-bruno"]

#: junk for a path placeholder (quoted into the path unless it is meant to stay raw)
PATH_JUNK = [
    "'",
    "../../etc/passwd",
    "x" * 5000,
    "%00",
    "\x00",
    "ünïcødé-名前-🙂",
    "-1",
    "99999999999999999999",
    "²²²²",
    "٢٠٢٦",
    "0" * 32,
    "' OR '1'='1",
    "<script>alert(1)</script>",
    " ",
]

#: already percent-encoded junk that every placeholder and query gets, whoever asks: bytes that
#: are not UTF-8 (an invalid start byte, an overlong slash) and a NUL, which PostgreSQL cannot
#: store (SQLite can, so only a sweep on PostgreSQL would otherwise find a view that lets it in)
RAW_JUNK = ["%FF", "%C0%AF", "%00", "x%00y"]

#: junk for a query parameter or a form field
VALUE_JUNK = [
    "'",
    "",
    "   ",
    "x" * 5000,
    "\x00",
    "ünïcødé-名前-🙂",
    "-1",
    "0",
    "99999999999999999999",
    "-99999999999999999999",
    "1e309",
    "NaN",
    "²",
    "١٢٣",
    "12,50",
    "2026-02-30",
    "9999-99-99",
    "9999-12-31",
    "0001-01-01",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "[]",
    '{"a": 1}',
]

#: the names views read from the query and the form (grep ``request.GET``/``POST`` in portal/)
FIELD_NAMES = {
    "q",
    "status",
    "service",
    "page",
    "date",
    "from",
    "to",
    "year",
    "code",
    "next",
    "idp",
    "loa",
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "SigAlg",
    "Signature",
    "bill",
    "only",
    "idempotency_key",
    "action",
    "note",
    "reason",
    "amount",
    "seen_refundable",
    "entry",
    "service_code",
    "item_code",
    "label",
    "currency",
    "effective_from",
    "file",
}

JSON_BODIES = [
    (b"not json at all", "application/json"),
    (b"{", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
    (b'{"reason": "' + b"x" * 100_000 + b'"}', "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'"text"', "application/json"),
    (b"12", "application/json"),
    (
        b'{"payer": [], "lines": {}, "number": 1, "due_date": 2, "currency": null}',
        "application/json",
    ),
    (
        json.dumps(
            {
                "payer": {"national_id": "x" * 70, "organisation_number": 1},
                "number": "\x00",
                "description": "",
                "due_date": "2026-02-30",
                "currency": "XXX",
                "lines": [{"description": "a", "amount": 10**30}, {"amount": -1}, "x", None],
                "reason": ["a"],
            }
        ).encode(),
        "application/json",
    ),
    (b"reason=x&number=1", "application/x-www-form-urlencoded"),
    (b"reason=%FF%FE&number=%00&q=%C0%AF", "application/x-www-form-urlencoded"),
    (b"<xml/>", "text/xml"),
    (b'{"reason": "x"}', "application/json; charset=bogus"),
    ('{"reason": "x"}'.encode("utf-16"), "application/json; charset=utf-16"),
    (b"reason=x&number=1", "multipart/form-data"),
    ("reason=x".encode("utf-16"), "application/x-www-form-urlencoded; charset=utf-16"),
    (
        b'--b\r\nContent-Disposition: form-data; name="reason"\r\n'
        b"Content-Type: text/plain; charset=bogus\r\n\r\nx\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
    ),
]

HEADER_JUNK = [
    {"Idempotency-Key": "'" + "x" * 2000},
    {"Idempotency-Key": ""},
    {"Idempotency-Key": "ünï\x7f"},
    {"Accept": "application/json"},
    {"Accept": "application/problem+json;q=0.9, */*;q=0.1"},
    {"Accept": ";;;,,,garbage"},
    {"Accept-Language": "xx-YY;q=nope, \u00e9"},
    {"If-None-Match": '"' + "x" * 500 + '"'},
    {"X-Request-ID": "../../\x7f" * 20},
    {"Authorization": "Bearer '"},
    {"Authorization": "Bearer " + "x" * 5000},
    {"Authorization": "Basic ünï"},
    {"Content-Type": "multipart/form-data"},
    {"Content-Type": "application/x-www-form-urlencoded; charset=bogus"},
    {"Content-Type": "application/json; charset=utf-16"},
    {"Content-Type": ";;; charset="},
]

_PLACEHOLDER = re.compile(r"\{([^}:]+)[^}]*\}")
#: signing out would end the persona's session halfway through the sweep
_SKIPPED_POSTS = {"logout"}
JUNK_FILE = b"\x00\xff'" * 100


@pytest.fixture
def world(dbsession, wsgi_app, departments):
    """Real objects for every placeholder, owned by citizen-ana in the revenue department, and
    an API key of the service that issued her bill."""
    from portal.applications.workflow import start_draft

    payer = factories.user(dbsession)
    bill = factories.bill(dbsession, payer)
    factories.bill(dbsession, payer)
    payment = factories.payment(dbsession, payer, [bill])
    application = start_draft(
        dbsession,
        factories.service(dbsession, "vehicle-registration"),
        payer,
        {},
        app_clock(wsgi_app.registry).now(),
    )
    issuer = document_issuer(wsgi_app.registry)
    receipt = issuer.record(
        dbsession,
        Receipt(
            payment=payment,
            owner=payer,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
        ),
        app_clock(wsgi_app.registry).now(),
    )
    issuer.render(dbsession, receipt)
    _, token = create_api_key(dbsession, bill.service, "property tax integration")
    tender = factories.tender(dbsession, now=app_clock(wsgi_app.registry).now())
    document = tender_document(dbsession, tender, app_clock(wsgi_app.registry).now())
    dbsession.commit()
    return {
        "values": {
            "number": receipt.number,
            "year": str(receipt.fiscal_year),
            "code": "revenue",
            "public_id": payment.public_id,
            "application": application.public_id,
            "service": "vehicle-registration",
            "provider": "sandbox",
            "subpath": "portal.css",
            "reference": tender.reference,
            "document": document.public_id,
        },
        "bill": bill.public_id,
        "verification_code": receipt.verification_code,
        "token": token,
        "payment_reference": payment.public_id,
        "payment_amount": payment.amount_minor,
    }


def tender_document(dbsession, tender, now):
    """A PDF published with ``tender``."""
    from portal.procurement.files import Upload, store
    from portal.procurement.models import TenderDocument

    stored = store(dbsession, Upload("terms.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"), now)
    document = TenderDocument(
        tender=tender, file=stored, title="Terms", filename="terms.pdf", added_at=now
    )
    dbsession.add(document)
    dbsession.flush()
    return document


@pytest.fixture(autouse=True)
def _no_rate_limit(monkeypatch, wsgi_app):
    """The sweep sends far more checks than a person may; the limiter has its own tests."""
    from portal.documents.ratelimit import verify_limiter

    monkeypatch.setattr(verify_limiter(wsgi_app.registry), "allow", lambda client: True)


def method_set(request_methods) -> set[str]:
    """A view's request methods as a set: Pyramid keeps one method as a bare string."""
    if not request_methods:
        return {"GET", "POST"}
    if isinstance(request_methods, str):
        return {request_methods}
    return set(request_methods)


def swept_routes(app) -> list[tuple[str, str, set[str], bool]]:
    """(route name, pattern, request methods, whether a view declares POST) for every route
    with a view; a view that names no method answers both GET and POST."""
    methods: dict[str, set[str]] = {}
    posted: set[str] = set()
    for name, _permission, request_methods in route_views(app):
        methods.setdefault(name, set()).update(method_set(request_methods))
        if request_methods and "POST" in method_set(request_methods):
            posted.add(name)
    return [
        (name, app.routes_mapper.get_route(name).pattern, wanted & {"GET", "POST"}, name in posted)
        for name, wanted in sorted(methods.items())
    ]


def fill(pattern: str, values: dict, junk: tuple[str, str] | None = None) -> str:
    """The pattern with real values, or with ``junk`` = (placeholder, value) in one place."""

    def value(match):
        name = match.group(1)
        if junk is not None and junk[0] == name:
            return junk[1]
        return quote(values.get(name, "x"), safe="")

    path = _PLACEHOLDER.sub(value, pattern).replace("*subpath", values["subpath"])
    return path if path.startswith("/") else "/" + path


class Sweep:
    """Sends requests and notes every answer that breaks the rule, to report them all at once."""

    def __init__(self, app: webtest.TestApp, label: str):
        """Requests come from the portal's own pages (a same-origin Referer), as a browser's do."""
        self.app = app
        self.label = label
        self.failures: list[str] = []
        self.count = 0

    def send(self, method: str, path: str, params=None, headers=None, body=None, files=None):
        headers = {"Referer": "https://localhost/", **(headers or {})}
        self.count += 1
        where = f"{self.label} {method} {path[:120]} {_describe(params, headers, body, files)}"
        json_client = _json_client(path, headers)
        app = self.app
        if not _utf8_path(path):
            # WebTest's cookie jar cannot read such a path back; a browser sends it with its
            # cookies all the same, so they go as a plain header through a jar-less client.
            app = webtest.TestApp(self.app.app, extra_environ=self.app.extra_environ)
            cookies = "; ".join(f"{name}={value}" for name, value in self.app.cookies.items())
            headers = {**headers, "Cookie": cookies} if cookies else headers
        try:
            if method == "GET":
                response = app.get(path, params, headers=headers, expect_errors=True)
            elif body is not None:
                content_type = headers.pop("Content-Type")
                response = app.post(
                    path, body, headers=headers, content_type=content_type, expect_errors=True
                )
            else:
                response = app.post(
                    path, params or {}, headers=headers, upload_files=files, expect_errors=True
                )
        except Exception as error:  # noqa: BLE001 - an exception escaping the app is the finding
            self.failures.append(f"{where}: raised {error!r:.200}")
            return None
        if response.status_int >= 500:
            self.failures.append(f"{where}: {response.status}")
        elif (
            400 <= response.status_int < 500
            and json_client
            and response.content_type != "application/problem+json"
        ):
            self.failures.append(f"{where}: {response.status} as {response.content_type}")
        return response


def _utf8_path(path: str) -> bool:
    try:
        unquote(urlsplit(path).path, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _json_client(path: str, headers: dict) -> bool:
    return (
        path.startswith("/api/")
        or headers.get("Accept", "").startswith("application/json")
        or headers.get("Content-Type") == "application/json"
    )


def _describe(params, headers, body, files) -> str:
    shown = {"params": params, "headers": headers, "body": body, "files": files}
    return repr({key: value for key, value in shown.items() if value})[:200]


def form_fields(app: webtest.TestApp, paths: list[str]) -> dict[str, set[str]]:
    """The field names of every form on the given pages, by the path the form posts to."""
    found: dict[str, set[str]] = {}
    for path in paths:
        response = app.get(path, expect_errors=True)
        if response.status_int != 200 or "html" not in response.content_type:
            continue
        for form in response.forms.values():
            action = urlsplit(form.action or path).path or path
            found.setdefault(action, set()).update(name for name in form.fields if name)
    return found


def csrf_token(app: webtest.TestApp) -> str:
    """The session's token, from the hidden input on a rendered page."""
    for path in ("/account", "/services", "/"):
        response = app.get(path, expect_errors=True)
        match = re.search(r'name="csrf_token"\s+value="([^"]+)"', response.text)
        if match:
            return match.group(1)
    return ""


def rotate(values: list, turn: int, share: int) -> list:
    """One of ``share`` slices of ``values``, a different one at each turn."""
    size = -(-len(values) // share)
    start = (turn * size) % len(values)
    return list(itertools.islice(itertools.cycle(values), start, start + size))


def sweep_as(sweep: Sweep, wsgi_app, world, index: int) -> None:
    """Every route with junk in its placeholders, its query and (when it takes a POST) its form.
    Slices of the junk turn with the persona and the route; views that declare POST, often
    reachable by one persona only, get every value."""
    values = world["values"]
    routes = swept_routes(wsgi_app)
    pages = [fill(pattern, values) for _, pattern, methods, _ in routes if "GET" in methods]
    fields = form_fields(sweep.app, pages)
    token = csrf_token(sweep.app)

    for turn, (name, pattern, methods, posted) in enumerate(routes, start=index):
        path = fill(pattern, values)
        method = "GET" if "GET" in methods else "POST"
        extra = {"csrf_token": token} if method == "POST" else {}
        names = sorted(FIELD_NAMES | fields.get(path, set()))

        for placeholder in _PLACEHOLDER.findall(pattern):
            for junk in rotate(PATH_JUNK, turn, 3):
                sweep.send(
                    method, fill(pattern, values, (placeholder, quote(junk, safe=""))), params=extra
                )
            for junk in [*RAW_JUNK, "..%2F..%2Fetc%2Fpasswd"]:
                sweep.send(method, fill(pattern, values, (placeholder, junk)), params=extra)

        if "GET" in methods:
            for junk in RAW_JUNK:
                sweep.send("GET", path + "?" + "&".join(f"{field}={junk}" for field in names))
            for junk in rotate(VALUE_JUNK, turn, 4):
                sweep.send("GET", path, params={field: junk for field in names})
            sweep.send("GET", path, params=[(f, v) for f in names for v in ("1", "", "x")])
            sweep.send(
                "GET",
                path,
                headers={"Accept": "application/json"},
                params={field: "'" for field in names},
            )
            for headers in rotate(HEADER_JUNK, turn, 3):
                sweep.send("GET", path, headers=dict(headers))

        if name in _SKIPPED_POSTS or "POST" not in methods:
            continue
        if posted:
            sweep_form(sweep, path, token, names, turn)
        else:
            sweep_any_method(sweep, path, token, names, turn)


def sweep_form(sweep: Sweep, path: str, token: str, names: list[str], turn: int) -> None:
    """A view that takes a POST: every junk value in every field, then each field a different
    one, repeated and missing fields, a file in every field, JSON instead of a form. A persona
    the view refuses gets only a little of it."""
    names = [name for name in names if name != "csrf_token"]
    token_field = [("csrf_token", token)]
    probe = sweep.send("POST", path, params=token_field)
    if probe is not None and probe.status_int in (401, 403):
        sweep_any_method(sweep, path, token, names, turn)
        return
    for value in VALUE_JUNK:
        sweep.send("POST", path, params=token_field + [(f, value) for f in names])
    for shift in range(0, len(VALUE_JUNK), 5):
        mixed = [(f, VALUE_JUNK[(i + shift) % len(VALUE_JUNK)]) for i, f in enumerate(names)]
        sweep.send("POST", path, params=token_field + mixed)
    repeated = [(f, v) for f in names for v in ("1", "", "2")]
    sweep.send("POST", path, params={"csrf_token": "forged"})
    sweep.send("POST", path, params=token_field + [("csrf_token", "x")] + repeated)
    sweep.send("POST", path, params=token_field + repeated)
    sweep.send(
        "POST",
        path,
        params=token_field + [(f, "'") for f in names],
        headers={"Accept": "application/json", "Idempotency-Key": "'" * 300},
    )
    sweep.send("POST", path, params=token_field, files=[(f, "junk.bin", JUNK_FILE) for f in names])
    for body, content_type in rotate(JSON_BODIES, turn, 3):
        sweep.send(
            "POST", path, body=body, headers={"Content-Type": content_type, "X-CSRF-Token": token}
        )


def sweep_any_method(sweep: Sweep, path: str, token: str, names: list[str], turn: int) -> None:
    """A view that names no method also answers a POST: a little junk of each kind."""
    names = [name for name in names if name != "csrf_token"]
    value = VALUE_JUNK[turn % len(VALUE_JUNK)]
    sweep.send("POST", path, params=[("csrf_token", token)] + [(f, value) for f in names])
    sweep.send(
        "POST",
        path,
        params=[("csrf_token", token)],
        files=[(f, "junk.bin", JUNK_FILE) for f in names],
    )
    body, content_type = JSON_BODIES[turn % len(JSON_BODIES)]
    sweep.send(
        "POST", path, body=body, headers={"Content-Type": content_type, "X-CSRF-Token": token}
    )


def new_app(wsgi_app, address: str) -> webtest.TestApp:
    return webtest.TestApp(
        wsgi_app,
        extra_environ={
            "wsgi.url_scheme": "https",
            "HTTP_HOST": "localhost",
            "REMOTE_ADDR": address,
        },
    )


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
def test_no_input_makes_a_page_fail(persona, testapp, signed_in, wsgi_app, world):
    if persona is not None:
        signed_in(persona)
    sweep = Sweep(testapp, persona or "anonymous")
    sweep_as(sweep, wsgi_app, world, PERSONAS.index(persona))
    assert sweep.count > 500
    assert sweep.failures == [], "\n".join(sweep.failures[:60])


def test_no_body_makes_the_api_fail(wsgi_app, world):
    """A service's integration with its real key, sending every kind of broken JSON."""
    sweep = Sweep(new_app(wsgi_app, "198.51.100.7"), "service")
    auth = {"Authorization": f"Bearer {world['token']}"}
    api = [
        (name, pattern, methods)
        for name, pattern, methods, _posted in swept_routes(wsgi_app)
        if pattern.startswith("/api/")
    ]
    assert api
    values = {**world["values"], "public_id": world["bill"]}
    for _name, pattern, methods in api:
        path = fill(pattern, values)
        for placeholder in _PLACEHOLDER.findall(pattern):
            for junk in PATH_JUNK:
                for method in sorted(methods):
                    sweep.send(
                        method,
                        fill(pattern, values, (placeholder, quote(junk, safe=""))),
                        headers=dict(auth),
                    )
        for method in sorted(methods):
            for headers in HEADER_JUNK:
                sweep.send(method, path, headers={**auth, **headers})
        if "POST" in methods:
            for body, content_type in JSON_BODIES:
                sweep.send("POST", path, body=body, headers={**auth, "Content-Type": content_type})
            sweep.send(
                "POST",
                path,
                body=b"{}",
                headers={
                    **auth,
                    "Content-Type": "application/json",
                    "Idempotency-Key": "\x00" * 100,
                },
            )
        for junk in VALUE_JUNK:
            sweep.send("GET", path, params={f: junk for f in FIELD_NAMES}, headers=dict(auth))
    assert sweep.failures == [], "\n".join(sweep.failures[:60])


def test_public_views_ignore_junk_in_every_public_route(wsgi_app, world):
    """Public routes with no session at all, junk names included."""
    sweep = Sweep(new_app(wsgi_app, "198.51.100.8"), "public")
    for name, permission, methods in route_views(wsgi_app):
        if permission != NO_PERMISSION_REQUIRED:
            continue
        pattern = wsgi_app.routes_mapper.get_route(name).pattern
        path = fill(pattern, {**world["values"], "code": world["verification_code"]})
        for method in sorted(method_set(methods) & {"GET", "POST"}):
            for junk in VALUE_JUNK:
                sweep.send(method, path, params=[(junk or "empty", junk), ("next", junk)])
    assert sweep.failures == [], "\n".join(sweep.failures[:60])


def test_a_year_in_other_digits_is_not_found(testapp, signed_in):
    signed_in("citizen-ana")
    testapp.get("/receipts/year/%C2%B2%C2%B2%C2%B2%C2%B2.zip", status=404)


def test_a_file_where_a_form_takes_text_is_refused(testapp, signed_in, world, dbsession):
    signed_in("admin-ada")
    response = testapp.post(
        "/admin/fees",
        [("csrf_token", csrf_token(testapp))],
        upload_files=[("amount", "amount.txt", b"12.50")],
        headers={"Referer": "https://localhost/admin/fees"},
        status=400,
    )
    assert "takes no files" in response.text


def test_a_withdrawal_of_an_impossible_entry_is_refused(testapp, signed_in, departments):
    signed_in("admin-ada")
    token = csrf_token(testapp)
    for entry in ("99999999999999999999", "²", "-1"):
        testapp.post(
            "/admin/fees/withdraw",
            {"csrf_token": token, "entry": entry},
            headers={"Referer": "https://localhost/admin/fees"},
            status=400,
        )


def test_readiness_answers_a_signed_in_visitor(testapp, signed_in):
    signed_in("citizen-ana")
    assert testapp.get("/readyz").json == {"status": "ok"}


def test_a_refused_form_answers_a_json_client_with_problem_details(testapp, signed_in):
    signed_in("admin-ada")
    response = testapp.post(
        "/admin/fees",
        {"csrf_token": csrf_token(testapp), "amount": "x"},
        headers={"Referer": "https://localhost/admin/fees", "Accept": "application/json"},
        status=422,
    )
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 422


def multipart(part_headers: str = "", boundary: str = "b") -> bytes:
    """A one-field multipart form (``SAMLResponse=x``) with extra headers on its part."""
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="SAMLResponse"\r\n{part_headers}\r\n'
        f"x\r\n--{boundary}--\r\n"
    ).encode()


NO_BOUNDARY = "names no valid boundary"
NOT_UTF8 = "is not UTF-8"
#: bodies that cannot be read as their Content-Type declares: (Content-Type, body or None for
#: the route's own good body, status, what the answer says)
UNREADABLE_BODIES = [
    ("multipart/form-data", None, 400, NO_BOUNDARY),
    ("multipart/form-data; boundary=", None, 400, NO_BOUNDARY),
    ('multipart/form-data; boundary="b "', multipart(boundary="b "), 400, NO_BOUNDARY),
    ("multipart/form-data; boundary=" + "b" * 71, multipart(boundary="b" * 71), 400, NO_BOUNDARY),
    ("multipart/form-data; boundary*=utf-8''%C3%A9", None, 400, NO_BOUNDARY),
    ("application/x-www-form-urlencoded; charset=bogus", None, 415, NOT_UTF8),
    ("application/x-www-form-urlencoded; charset=utf-16", None, 415, NOT_UTF8),
    ("application/json; charset=bogus", None, 415, NOT_UTF8),
    ("application/json; charset=utf-16", None, 415, NOT_UTF8),
    ('application/json; charset="ISO-8859-1"', None, 415, NOT_UTF8),
    ("multipart/form-data; boundary=b; charset=bogus", multipart(), 415, NOT_UTF8),
    (
        "multipart/form-data; boundary=b",
        multipart("Content-Type: text/plain; charset=bogus\r\n"),
        415,
        NOT_UTF8,
    ),
    ("text/plain; charset=x-no-such-charset", None, 415, NOT_UTF8),
]

#: methods no route serves, a method in the wrong case, and a made-up one
UNSERVED_METHODS = ["TRACE", "PROPFIND", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "BREW"]


def refusal_text(response) -> str:
    """What a refusal says: the problem's detail, or the error page's text."""
    if response.content_type == "application/problem+json":
        return response.json.get("detail", "")
    return response.text


def send_raw(app, method: str, path: str, body: bytes, headers: dict):
    request = webtest.TestRequest.blank(
        path, method=method, headers=headers, environ=dict(app.extra_environ)
    )
    request.body = body
    if "Content-Type" in headers:
        request.environ["CONTENT_TYPE"] = headers["Content-Type"]
    return app.do_request(request, expect_errors=True)


def assert_refused(sweep_failures, response, where, status, says, caplog) -> None:
    """Status, message in the answer, the same message in a log line, problem details for a
    JSON client; every miss noted rather than raised, to report them all at once."""
    if response.status_int != status:
        sweep_failures.append(f"{where}: {response.status}, wanted {status}")
        return
    if says not in refusal_text(response):
        sweep_failures.append(f"{where}: the answer does not say {says!r}")
    logged = [r for r in caplog.records if r.name == "portal.web" and says in r.getMessage()]
    if not logged:
        sweep_failures.append(f"{where}: no log line says {says!r}")
    caplog.clear()


def signed_notification(world) -> tuple[bytes, dict]:
    """A notification the sandbox could send about the world's payment, signed now."""
    body = json.dumps(
        {
            "event_id": "evt_hostile_1",
            "type": "payment.succeeded",
            "created": int(time.time()),
            "data": {
                "id": "psp_hostile_1",
                "reference": world["payment_reference"],
                "status": "succeeded",
                "amount": world["payment_amount"],
                "currency": "EUR",
                "refunded_amount": 0,
                "method": None,
                "failure_reason": None,
            },
        }
    ).encode()
    return body, {"Sandbox-Signature": signature_header(SECRET, body, int(time.time()))}


def good_bodies(world, testapp, devidp) -> dict[str, tuple[bytes, dict]]:
    """For the routes whose refusal matters most, a body they would act on: a real signed
    notification, a real SAML answer to a sign-in this browser started, a bill to issue."""
    acs_url, saml_response, relay_state = devidp.respond(
        start_login(testapp), "citizen-ben", "http://eidas.europa.eu/LoA/substantial"
    )
    form = urlencode({"SAMLResponse": saml_response, "RelayState": relay_state or ""})
    bill = {
        "payer": {"organisation_number": "NW-100200"},
        "number": "H-1",
        "description": "Hostile input",
        "due_date": "2026-12-15",
        "currency": "EUR",
        "lines": [{"description": "Fee", "amount": 100}],
    }
    return {
        "/billing/notifications/sandbox": signed_notification(world),
        urlsplit(acs_url).path: (form.encode(), {}),
        "/api/v1/bills": (
            json.dumps(bill).encode(),
            {"Authorization": f"Bearer {world['token']}"},
        ),
    }


def _in(content_type: str, body: bytes) -> bytes:
    """The body as a client that declares UTF-16 would really send it."""
    return body.decode("utf-8").encode("utf-16") if "utf-16" in content_type else body


#: session rows record when they were last used, which any request may refresh
UNTOUCHED = ("web_session",)


def test_unreadable_bodies_are_refused_on_every_post_route(
    testapp, signed_in, wsgi_app, world, devidp, engine, dbsession, caplog
):
    """Every route that takes a POST, the SAML ACS and the provider's notifications among
    them: a body that cannot be read as its Content-Type declares is refused (400, or 415 for
    a character set other than UTF-8) with a message and a log line before any view reads it,
    and changes nothing, even when it carries a body the route would act on. Sent right, the
    same bodies are then taken."""
    caplog.set_level(logging.INFO)
    signed_in("citizen-ana")
    token = csrf_token(testapp)
    dbsession.add(Organisation(registration_number="NW-100200", name="Northwind Supplies Ltd"))
    dbsession.commit()
    good = good_bodies(world, testapp, devidp)
    posted = [
        fill(pattern, world["values"])
        for name, pattern, methods, _ in swept_routes(wsgi_app)
        if "POST" in methods and name not in _SKIPPED_POSTS
    ]
    assert set(good) <= set(posted)
    before = Snapshot(engine, skip=UNTOUCHED)
    failures: list[str] = []
    for path in posted:
        body, headers = good.get(path, (urlencode({"csrf_token": token}).encode(), {}))
        for content_type, junk, status, says in UNREADABLE_BODIES:
            response = send_raw(
                testapp,
                "POST",
                path,
                junk if junk is not None else _in(content_type, body),
                {
                    "Referer": "https://localhost/",
                    "X-CSRF-Token": token,
                    **headers,
                    "Content-Type": content_type,
                },
            )
            where = f"POST {path} {content_type}"
            assert_refused(failures, response, where, status, says, caplog)
            json_client = path.startswith("/api/") or content_type.startswith("application/json")
            if json_client and response.content_type != "application/problem+json":
                failures.append(f"{where}: {response.content_type} to a JSON client")
    assert failures == [], "\n".join(failures[:60])
    assert before.changed_tables(Snapshot(engine, skip=UNTOUCHED)) == []

    notification, signature = good["/billing/notifications/sandbox"]
    testapp.post(
        "/billing/notifications/sandbox",
        notification,
        headers={**signature, "Content-Type": "application/json"},
        status=200,
    )
    bill, key = good["/api/v1/bills"]
    testapp.post(
        "/api/v1/bills", bill, headers={**key, "Content-Type": "application/json"}, status=201
    )
    [acs] = [path for path in good if path.startswith("/saml/")]
    form, _ = good[acs]
    signed_in_as_ben = testapp.post(
        acs, form, headers={"Content-Type": "application/x-www-form-urlencoded"}, status=303
    )
    assert "portal_session" in signed_in_as_ben.headers.get("Set-Cookie", "")


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
@pytest.mark.parametrize("persona", [None, "admin-ada"], ids=lambda p: p or "anonymous")
def test_methods_a_route_does_not_serve_are_refused_with_those_it_serves(
    persona, testapp, signed_in, wsgi_app, world, caplog
):
    """Every route: a method it does not serve is answered 405 with an Allow header, before its
    factory looks anything up (the path's ids here name nothing); a JSON client gets problem
    details. Allow tells the truth: each method it names is served, and GET brings HEAD."""
    caplog.set_level(logging.INFO)
    if persona is not None:
        signed_in(persona)
    failures: list[str] = []
    for name, pattern, methods, _posted in swept_routes(wsgi_app):
        nowhere = fill(pattern, {"subpath": world["values"]["subpath"]})
        allowed: set[str] = set()
        for method in UNSERVED_METHODS:
            response = send_raw(testapp, method, nowhere, b"", {"Referer": "https://localhost/"})
            where = f"{method} {nowhere}"
            says = "does not take this kind of request"
            assert_refused(failures, response, where, 405, says, caplog)
            if nowhere.startswith("/api/") and response.content_type != "application/problem+json":
                failures.append(f"{where}: {response.content_type}")
            allowed |= set(response.headers.get("Allow", "").split(", ")) - {""}
        if not methods <= allowed or ("GET" in allowed) != ("HEAD" in allowed):
            failures.append(f"{pattern}: Allow {sorted(allowed)} for a route serving {methods}")
        path = fill(pattern, world["values"])
        for method in sorted(allowed) if name not in _SKIPPED_POSTS else ():
            response = send_raw(testapp, method, path, b"", {"Referer": "https://localhost/"})
            if response.status_int == 405 or response.status_int >= 500:
                failures.append(f"{method} {path}: {response.status} though Allow names it")
    assert failures == [], "\n".join(failures[:60])
