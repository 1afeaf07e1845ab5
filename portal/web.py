"""Cross-cutting web behaviour: the start page, error pages, security headers, request log,
and the refusal of requests no view should see (unreadable bodies, methods a route does not
serve).

JSON clients (``Accept: application/json`` or anything under ``/api/``) get RFC 9457 problem
details instead of HTML error pages.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from email.message import Message
from urllib.parse import urlsplit

from pyramid.events import ApplicationCreated, BeforeTraversal, NewRequest
from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import (
    HTTPError,
    HTTPForbidden,
    HTTPNotFound,
    HTTPSeeOther,
)
from pyramid.i18n import TranslationString
from pyramid.tweens import INGRESS
from pyramid.view import (
    exception_view_config,
    forbidden_view_config,
    notfound_view_config,
    view_config,
)
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from portal.i18n import _
from portal.logs import request_id_var
from portal.refusals import (
    CONFLICT,
    FORBIDDEN,
    GONE,
    INVALID,
    MALFORMED,
    NOT_ALLOWED,
    NOT_FOUND,
    TOO_LARGE,
    TOO_MANY,
    UNAUTHENTICATED,
    UNAVAILABLE,
    UNSUPPORTED,
    Refusal,
)
from portal.requests import PortalRequest
from portal.security import PUBLIC, Root, principals_of
from portal.settings import setting_bool

log = logging.getLogger(__name__)
access_log = logging.getLogger("portal.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def wants_json(request: PortalRequest) -> bool:
    """API paths, JSON bodies and clients that prefer JSON get problem details."""
    if request.path_info.startswith("/api/") or request.content_type == "application/json":
        return True
    best = request.accept.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def problem_response(request, status: int, title: str, detail: str = "", **extra):
    """An RFC 9457 problem details response."""
    response = request.response
    response.status_int = status
    response.content_type = "application/problem+json"
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response.json_body = body
    return response


def error_page(
    request, status: int, title: str, detail: str, way_on: tuple[str, str] | None = None
):
    """The refusal as a page (or a problem for JSON clients). ``way_on`` is a (URL, label)
    pair for the one thing the person can do next, where there is one better than starting
    over (the payment already in progress, say)."""
    if wants_json(request):
        return problem_response(request, status, title, detail)
    request.response.status_int = status
    from pyramid.renderers import render_to_response

    return render_to_response(
        "errors/error.jinja2",
        {"status": status, "title": title, "detail": detail, "way_on": way_on},
        request=request,
        response=request.response,
    )


def translator(request):
    """Translates into the request's language the messages these views write as ``_(...)``
    over plain strings: each is read as a message of the portal's catalogue (a plain string
    given to the localizer would be looked up in no catalogue at all)."""
    translate = request.localizer.translate
    return lambda message: translate(TranslationString(message, domain="portal"))


def problem_for_json_client(request, response):
    """Views that refuse a form by rendering it again (a 4xx page with the errors in it) still
    answer a JSON client with problem details, as raised errors do."""
    if not (
        400 <= response.status_int < 500
        and response.content_type == "text/html"
        and wants_json(request)
    ):
        return response
    _ = translator(request)
    log.info("refused page answered as problem details: %s", response.status)
    response.content_type = "application/problem+json"
    response.json_body = {
        "type": "about:blank",
        "title": _(response.status.partition(" ")[2]),
        "status": response.status_int,
        "detail": _("The request could not be accepted as sent. Check it and try again."),
    }
    return response


@view_config(route_name="home", request_method="GET", renderer="home.jinja2", permission=PUBLIC)
def home(request):
    return {}


@notfound_view_config()
def not_found(exc, request):
    _ = translator(request)
    log.info("not found")
    return error_page(
        request,
        404,
        _("Page not found"),
        _("There is no page at this address. Check the address or go to the start page."),
    )


@forbidden_view_config()
def forbidden(exc, request):
    """Anonymous visitors are sent to sign in; signed-in people are told plainly they may not."""
    _ = translator(request)
    if request.person is None and request.method == "GET" and not wants_json(request):
        return HTTPSeeOther(request.route_url("saml_login", _query={"next": request.path_qs}))
    log.warning("forbidden: %s", request.path_info)
    if request.person is None:
        return error_page(
            request,
            401 if wants_json(request) else 403,
            _("Sign-in required"),
            _("Sign in to use this page."),
        )
    return error_page(
        request,
        403,
        _("Not allowed"),
        _("Your account may not see or do this. If you think it should, contact the office."),
    )


@exception_view_config(HTTPError)
def http_error(exc, request):
    """Client errors Pyramid itself raises (a bad CSRF token, a route factory's 404) in the
    layout; the portal's own code refuses with :class:`Refusal`."""
    if isinstance(exc, HTTPNotFound | HTTPForbidden):
        return not_found(exc, request) if isinstance(exc, HTTPNotFound) else forbidden(exc, request)
    _ = translator(request)
    log.warning("%s %s: %s", exc.code, exc.title, exc.detail or exc.explanation)
    if isinstance(exc, BadCSRFToken | BadCSRFOrigin):
        title = _("The form has expired")
        detail = _(
            "The form was open too long, or was not sent from this site. Nothing was changed. "
            "Go back, reload the page and send the form again."
        )
    else:
        title, detail = _(exc.title), _(exc.detail or exc.explanation)
    response = error_page(request, exc.code, title, detail)
    for name in ("Retry-After", "Allow", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


#: the HTTP status of each kind of refusal
STATUS = {
    MALFORMED: 400,
    INVALID: 422,
    NOT_FOUND: 404,
    NOT_ALLOWED: 405,
    CONFLICT: 409,
    FORBIDDEN: 403,
    GONE: 410,
    TOO_LARGE: 413,
    UNSUPPORTED: 415,
    TOO_MANY: 429,
    UNAUTHENTICATED: 401,
    UNAVAILABLE: 503,
}
#: the heading of a refusal that names none: the status's reason phrase
TITLES = {
    MALFORMED: _("Bad Request"),
    INVALID: _("Unprocessable Entity"),
    NOT_FOUND: _("Not Found"),
    NOT_ALLOWED: _("Method Not Allowed"),
    CONFLICT: _("Conflict"),
    FORBIDDEN: _("Forbidden"),
    GONE: _("Gone"),
    TOO_LARGE: _("Request Entity Too Large"),
    UNSUPPORTED: _("Unsupported Media Type"),
    TOO_MANY: _("Too Many Requests"),
    UNAUTHENTICATED: _("Unauthorized"),
    UNAVAILABLE: _("Service Unavailable"),
}


def status_of(refusal: Refusal) -> int:
    return STATUS[refusal.kind]


def field_errors_json(request, errors) -> list[dict]:
    """Per-field reasons as RFC 9457's extension example has them: a JSON pointer (or a form
    field's name, or a file's line and column) and why."""
    translate = request.localizer.translate
    found = []
    for error in errors:
        item = {"pointer" if error.field.startswith("#") else "field": error.field}
        if error.line is not None:
            item["line"] = error.line
        item["detail"] = translate(error.message)
        found.append(item)
    return found


def form_refused(request, refusal: Refusal) -> dict[str, TranslationString]:
    """For a view that shows its form again, the errors by their fields, rather than an
    error page (better for the person): the refusal's status on the response and its log
    line, as :func:`refused` gives them; the errors by field, or the message under ``""``
    when it names no field. The status vetoes the commit, so nothing is kept either way."""
    request.response.status_int = status_of(refusal)
    log.warning(
        "refused %d %s: %s", status_of(refusal), refusal.kind, refusal.message.interpolate()
    )
    if not refusal.errors:
        return {"": refusal.message}
    return {error.field: error.message for error in refusal.errors}


@exception_view_config(Refusal)
def refused(exc: Refusal, request):
    """Every refusal, answered the same way: the status of its kind, a log line with the
    message (whose parameters are never personal data), nothing of the request kept (its
    4xx/5xx status vetoes the commit, see ``portal.db``), and an error page or, for a JSON
    client, problem details."""
    translate = request.localizer.translate
    status = status_of(exc)
    log.warning("refused %d %s: %s", status, exc.kind, exc.message.interpolate())
    title = translate(exc.title if exc.title is not None else TITLES[exc.kind])
    detail = translate(exc.message)
    if wants_json(request):
        extra = {"errors": field_errors_json(request, exc.errors)} if exc.errors else {}
        response = problem_response(request, status, title, detail, **extra)
    else:
        response = error_page(request, status, title, detail, exc.way_on)
    response.headers.update(exc.headers)
    return response


@exception_view_config(IntegrityError)
def conflict(exc, request):
    """Two requests changed the same thing at the same moment (a double click, two tabs, two
    integrations) and the database kept the first: the other is refused (409) and changes
    nothing, as a request that lost a race should be."""
    log.warning("concurrent change refused: %s", type(exc).__name__)
    # The failed flush left the session unusable, and the page still reads the signed-in
    # person (the navigation, and their account's language for the page's): start the
    # session afresh before anything is translated; nothing of this request is kept.
    request.dbsession.rollback()
    _ = translator(request)
    return error_page(
        request,
        409,
        _("Changed at the same moment"),
        _(
            "This was changed by another request at the same moment. Reload the page to see "
            "where it stands, and try again if it is still needed."
        ),
    )


class _NoSession(dict):
    """The visitor's session on the error page when the database that keeps sessions is
    what failed: no messages to show, nothing kept."""

    #: never stored (the page's forms keep their CSRF token in a cookie, see portal.security)
    new = True

    def pop_flash(self, queue=""):
        return []

    def peek_flash(self, queue=""):
        return []


@exception_view_config(Exception)
def server_error(exc, request):
    """The last resort. A failure inside a flush leaves the session unusable, and the page
    still reads the signed-in person: roll it back first, as the 409 page does, so that the
    error page itself cannot fail; nothing of this request is kept either way."""
    log.exception("unhandled error")
    try:
        request.dbsession.rollback()
        # who is asking, read now if the failure came first (the page names them), and read
        # again if it came after: the rollback expired it
        if request.user is not None:
            request.dbsession.refresh(request.user)
    except Exception:
        # the database itself is what failed: the page names nobody rather than fail too
        log.exception("the database did not answer after an unhandled error")
        request.session = _NoSession()
        request.user = None
    _ = translator(request)
    return error_page(
        request,
        500,
        _("Something went wrong"),
        _(
            "The portal could not finish this request. Nothing was charged. "
            "Please try again; if it happens again, quote the reference below."
        ),
    )


def content_security_policy(settings: dict, form_targets: list[str]) -> str:
    form_action = " ".join(["'self'", *form_targets])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


def _user_id(request) -> int | str:
    """The signed-in person's id for the access log: from the identity map when the request
    made the ORM user, so that a rolled-back transaction (its objects expired and detached)
    cannot break the log line, else as the identity query read it."""
    if "user" in request.__dict__:
        user = request.__dict__["user"]
        identity = inspect(user).identity if user is not None else None
        return identity[0] if identity else "-"
    session = request.__dict__.get("session")
    person = getattr(session, "person", None)
    return person.id if person is not None and session.get("user_id") == person.id else "-"


def _client_address(request, trusted_proxies: frozenset[str]) -> None:
    """Who is asking, as rate limits and logs see it (``request.client_addr``): behind a
    trusted proxy the address that proxy saw, the last entry it added to X-Forwarded-For;
    otherwise the connection's own. Entries before it are whatever the client wrote, and an
    X-Forwarded-For from anyone but a trusted proxy is dropped (gunicorn passes the header on
    as sent, which webob would read from its first, client-written entry)."""
    environ = request.environ
    forwarded = environ.pop("HTTP_X_FORWARDED_FOR", "")
    if forwarded and environ.get("REMOTE_ADDR") in trusted_proxies:
        nearest = forwarded.rsplit(",", 1)[-1].strip()
        if nearest:
            environ["REMOTE_ADDR"] = nearest


def request_tween_factory(handler, registry):
    """Who is asking (behind the proxy), request id, security headers and one access-log line
    per request."""
    trusted_proxies = frozenset(
        registry.settings.get("portal.trusted_proxies", "127.0.0.1 ::1").split()
    )
    base = urlsplit(registry.settings["portal.base_url"])
    # Worked out once: the form targets are all added while the application is configured.
    security_headers = [
        (
            "Content-Security-Policy",
            content_security_policy(registry.settings, registry.get("csp_form_targets", [])),
        ),
        ("X-Content-Type-Options", "nosniff"),
        # Pages hold personal data: no browser or proxy keeps one unless its view says so
        # (static assets, immutable receipts).
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
    ]
    if setting_bool(registry.settings, "portal.hsts"):
        security_headers.append(
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        )

    def tween(request):
        _client_address(request, trusted_proxies)
        # Every URL the portal builds comes from portal.base_url, never from the Host header
        # (behind a reverse proxy, or when someone forges it).
        request.scheme = base.scheme
        request.host = base.netloc
        request.script_name = base.path.rstrip("/")
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        response = None
        try:
            response = problem_for_json_client(request, handler(request))
            return response
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = response.status_int if response is not None else 500
            if response is not None:
                headers = response.headers
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in security_headers:
                    headers.setdefault(name, value)
            route = request.matched_route.name if request.matched_route else "-"
            access_log.info(
                "%s %s route=%s status=%s ms=%.1f user=%s",
                request.method,
                request.path_info,
                route,
                status,
                elapsed_ms,
                _user_id(request),
            )
            request_id_var.reset(token)

    return tween


#: the methods a view that names none serves: those of pages and their forms
PAGE_METHODS = frozenset({"GET", "HEAD", "POST"})
#: the charset parameter of a Content-Type, found the way WebOb finds it to decode the body
_CHARSET = re.compile(r";\s*charset=([^;]*)", re.IGNORECASE)
#: a multipart boundary the form parser accepts: printable ASCII, at most 70 characters
#: (RFC 2046), not ending in a space
_BOUNDARY = re.compile(r"^[ -~]{0,69}[!-~]$")


def _not_utf8() -> Refusal:
    return Refusal(UNSUPPORTED, _("The request's character set is not UTF-8. Send text as UTF-8."))


def _utf8(charset: str) -> bool:
    return not charset or charset.lower().replace("-", "") == "utf8"


def body_refusal(request) -> Refusal | None:
    """Why the body cannot be read as its Content-Type declares it, as the refusal to answer
    with, or ``None``. A charset other than UTF-8 is refused for any body (forms, JSON
    and signed notifications are UTF-8; WebOb decodes no other), and a multipart form must
    name a boundary its parser accepts."""
    declared = request.environ.get("CONTENT_TYPE", "")
    charset = _CHARSET.search(declared)
    if charset and not _utf8(charset.group(1).strip().strip('"').strip()):
        return _not_utf8()
    if request.content_type == "multipart/form-data":
        message = Message()
        message["Content-Type"] = declared
        boundary = message.get_param("boundary")  # as sent: get_boundary() strips it
        if not isinstance(boundary, str) or not _BOUNDARY.match(boundary):
            return Refusal(
                MALFORMED, _("The form is sent as multipart but names no valid boundary.")
            )
    return None


def _drop_body(request) -> None:
    """Forget a body that could not be read: the error page, the locale negotiator and the
    access log read the request too. A JSON client stays recognisable by its media type."""
    media_type = request.content_type
    request.environ["CONTENT_TYPE"] = "" if media_type.startswith("multipart/") else media_type
    request.body = b""


def refuse_unreadable_text(event) -> None:
    """Text a person sends is UTF-8 without NUL characters (which PostgreSQL cannot store), in
    a body its Content-Type describes truly. A path, query or body that is not is refused (400,
    or 415 for another character set) before a route factory or a view reads it, so every
    view and every database answers such input alike. What could not be read is dropped from
    the request first (see ``_drop_body``)."""
    request = event.request
    environ = request.environ
    refusal = body_refusal(request)
    if refusal is not None:
        _drop_body(request)
        raise refusal
    try:
        values = [request.path_info, *request.GET.values(), *request.POST.values()]
    except UnicodeDecodeError:
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        environ["PATH_INFO"] = path.encode("utf-8").decode("latin-1")
        environ["QUERY_STRING"] = ""
        request.body = b""
        raise Refusal(MALFORMED, _("The address or form is not valid UTF-8 text.")) from None
    except LookupError:  # a part of a multipart form names a character set Python lacks
        _drop_body(request)
        raise _not_utf8() from None
    except ValueError:  # a multipart form its parser cannot follow
        _drop_body(request)
        raise Refusal(MALFORMED, _("The form could not be read. Send it again.")) from None
    if any(isinstance(value, str) and "\x00" in value for value in values):
        raise Refusal(MALFORMED, _("The address or form holds a character that is not allowed."))


def route_methods(introspector) -> dict[str, frozenset[str]]:
    """The methods each route's views answer, by route name: those a view names (GET brings
    HEAD), or all of ``PAGE_METHODS`` for a view that names none."""
    methods: dict[str, set[str]] = {}
    for route in introspector.get_category("routes"):
        served = methods.setdefault(route["introspectable"]["name"], set())
        for related in route["related"]:
            if related.category_name != "views":
                continue
            named = related["request_methods"]
            if not named:
                served |= PAGE_METHODS
                continue
            served |= {named} if isinstance(named, str) else set(named)
            if "GET" in served:
                served.add("HEAD")
    return {name: frozenset(served) for name, served in methods.items() if served}


def note_route_methods(event) -> None:
    registry = event.app.registry
    registry["route_methods"] = route_methods(registry.introspector)


def refuse_unserved_method(event) -> None:
    """A method the matched route does not serve (TRACE, PROPFIND, a DELETE on a page) is
    answered 405 with the methods it does serve, before its factory looks anything up, rather
    than falling through to a view that answers any method or to a 404."""
    request = event.request
    route = request.matched_route
    served = request.registry.get("route_methods", {}).get(route.name) if route else None
    if served is None or request.method in served:
        return
    allowed = ", ".join(sorted(served))
    raise Refusal(
        NOT_ALLOWED,
        _(
            "This address does not take this kind of request. It takes: ${allowed}.",
            mapping={"allowed": allowed},
        ),
        headers={"Allow": allowed},
    )


#: the days a person can mean in a filter; beyond them date arithmetic overflows
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(9998, 12, 31)


def query_date(request: PortalRequest, name: str) -> dt.date | None:
    """The date in query parameter ``name`` (YYYY-MM-DD), ``None`` if it is absent; anything
    else, or a day outside 1900-9998, is refused with a 400 that says how to write it."""
    text = request.GET.get(name, "")
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not EARLIEST_DAY <= day <= LATEST_DAY:
        raise Refusal(MALFORMED, _("Dates are written as YYYY-MM-DD, between 1900 and 9998."))
    return day


def query_page(request: PortalRequest) -> int:
    """The page number asked for (``page``), 1 when it is missing or not a sane number."""
    text = request.GET.get("page", "")
    if text.isascii() and text.isdigit() and len(text) <= 6:
        return max(1, int(text))
    return 1


#: the largest request body any view reads (``portal.max_request_bytes``): a tender document
#: (``procurement.max_document_bytes``, 20 MB) with its form. The proxy in front should refuse
#: larger ones first; this holds without it (gunicorn sets no limit of its own).
DEFAULT_MAX_REQUEST_BYTES = 25 * 1024 * 1024


def text_fields_only(view, info):
    """Form fields are text: a file sent where a view reads text is refused (400) before the
    view reads it, unless the view takes files (``accepts_files=True``). No view reads a body
    larger than ``portal.max_request_bytes`` (413), or one of unknown length (400: a chunked
    body would otherwise be read whole, whatever its size)."""
    limit = int(info.settings.get("portal.max_request_bytes", DEFAULT_MAX_REQUEST_BYTES))
    takes_files = bool(info.options.get("accepts_files"))

    def refuse_files(context, request):
        if request.exception is None and request.method not in ("GET", "HEAD"):
            if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
                raise Refusal(
                    MALFORMED, _("Send the request with its length; chunked bodies are refused.")
                )
            length = request.content_length
            if length is not None and length > limit:
                raise Refusal(TOO_LARGE, _("The request is larger than the portal takes."))
        if (
            not takes_files
            and request.exception is None
            and request.content_type == "multipart/form-data"
            and any(not isinstance(value, str) for value in request.POST.values())
        ):
            raise Refusal(MALFORMED, _("This form takes no files. Send it again without one."))
        return view(context, request)

    return refuse_files


# Pyramid reads the options a view deriver takes from this attribute of the function.
text_fields_only.options = ("accepts_files",)  # type: ignore[attr-defined]


class NavigationItem:
    def __init__(self, url: str, label: str, current: bool):
        self.url, self.label, self.current = url, label, current


def add_navigation_item(config, route_name: str, label: str, permission: str) -> None:
    """Offer ``route_name`` in the main navigation to whoever holds ``permission``."""
    config.registry.setdefault("navigation", []).append((route_name, label, permission))


def navigation(request: PortalRequest) -> list[NavigationItem]:
    """The main navigation entries this person may use, the page they are on marked."""
    current = request.matched_route.name if request.matched_route else None
    return [
        NavigationItem(request.route_path(route), label, route == current)
        for route, label in _offered(request)
    ]


#: the principals the root's ACL names: they alone decide which entries a person is offered
_ROOT_PRINCIPALS = frozenset(principal for _, principal, _ in Root.__acl__)
#: the registry's entries offered, by those principals and language
_OFFERED = "navigation_offered"


def _offered(request: PortalRequest) -> tuple[tuple[str, str], ...]:
    """(route, label) of the entries offered to this request's person, in their language.
    Worked out once per set of roles and language rather than asking the security policy
    about every entry on every page (a tenth of an empty page's function calls): an entry's
    permission is checked against the root, whose ACL names roles only."""
    key = (
        frozenset(principals_of(request)) & _ROOT_PRINCIPALS,
        request.localizer.locale_name,
    )
    known = request.registry.setdefault(_OFFERED, {})
    offered = known.get(key)
    if offered is None:
        root = Root(request)
        offered = known[key] = tuple(
            (route, request.localizer.translate(label))
            for route, label, permission in request.registry.get("navigation", [])
            if request.has_permission(permission, root)
        )
    return offered


def add_form_target(config, origin: str) -> None:
    """Allow forms to submit (or redirect after submitting) to ``origin``: an IdP, a PSP."""
    targets = config.registry.setdefault("csp_form_targets", [])
    if origin not in targets:
        targets.append(origin)


def includeme(config) -> None:
    config.add_directive("add_form_target", add_form_target)
    config.add_directive("add_navigation_item", add_navigation_item)
    config.add_request_method(navigation, "navigation", reify=True)
    config.add_tween("portal.web.request_tween_factory", under=INGRESS)
    config.add_view_deriver(text_fields_only)
    config.add_subscriber(refuse_unreadable_text, NewRequest)
    config.add_subscriber(refuse_unserved_method, BeforeTraversal)
    config.add_subscriber(note_route_methods, ApplicationCreated)
    config.add_route("home", "/")
