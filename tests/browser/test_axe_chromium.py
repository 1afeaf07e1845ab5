"""Every page of the portal passes axe-core (WCAG 2.1 A and AA, one main landmark, one
level-one heading) at 375 px wide, with JavaScript on and off, and scrolls sideways neither
there nor at 200 % zoom (tests/browser/accessibility.py): as each demo persona and a visitor
in English, and as one persona of each role and a visitor in each language of the catalogues.

The walks start from each person's own pages and follow every link; the demo world, with the
few things it lacks added here (applications, a payment still waiting for its provider, a
write-off waiting for a second clerk), shows every page a browser can open, which the test
checks against the portal's routes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.devidp.personas import PERSONAS
from tests import factories
from tests.browser.conftest import CHROMIUM, ROOT

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package", allow_module_level=True
    )
pytest.importorskip("playwright.async_api", reason="pip install playwright (the [test] extra)")

from portal.applications.models import Application  # noqa: E402
from portal.billing import OPEN, with_status  # noqa: E402
from portal.billing.approvals import open_approval  # noqa: E402
from portal.billing.models import Bill  # noqa: E402
from portal.billing.payments import start_payment  # noqa: E402
from portal.billing.providers import payment_provider  # noqa: E402
from portal.billing.writeoffs import WRITE_OFF  # noqa: E402
from portal.identity.models import User  # noqa: E402
from portal.money import Money  # noqa: E402
from portal.procurement.models import Tender  # noqa: E402
from portal.procurement.tenders import new_tender  # noqa: E402
from portal.receipts.models import Receipt  # noqa: E402
from portal.services.models import Service  # noqa: E402
from portal.tasks import task_dbsession  # noqa: E402
from tests.browser.accessibility import AXE, Visit, page_routes, report_to, sweep  # noqa: E402

pytestmark = pytest.mark.axe

#: every signed-in walk starts at the person's account, the start page and the back office
#: (a clerk's landing page, a forbidden page to the others)
START = ("/account", "/", "/backoffice")
#: pages of the portal that no walk of the demo world reaches, and where they are checked
NOT_WALKED = {"tender_auction": "test_the_auction_page (the demo has no auction running)"}
#: the languages besides English: those with a catalogue, as Accept-Language names them
LANGUAGES = sorted(
    path.parts[-3].replace("_", "-")
    for path in Path(ROOT, "portal", "locale").glob("*/LC_MESSAGES/portal.po")
)


@pytest.fixture
def whole_world(demo_world, wsgi_app, deployment):
    """The demo world and what it lacks for every page to show: Ana's applications (a draft,
    one in the registry's queue) and a payment of hers opened at the provider and not paid yet,
    Clara's write-off of an overdue bill waiting for a second clerk, and Bruno's draft tender.
    Returns the addresses no link leads to (pages reached through a POST search, a receipt's
    printed code), by whose walk starts there."""
    now = dt.datetime.now(dt.UTC)
    with task_dbsession(wsgi_app.registry) as session:
        people = {user.name_id: user for user in session.scalars(select(User))}
        ana, clara = people["citizen-ana"], people["clerk-clara"]
        vehicles = session.scalar(select(Service).where(Service.code == "vehicle-registration"))
        form = {"category": "truck", "vin": "WDB9634031L123456", "make_model": "Mercedes Actros"}
        for status in ("draft", "in_queue"):
            session.add(
                Application(
                    service=vehicles,
                    applicant=ana,
                    status=status,
                    form_json=json.dumps({**form, "first_registered": "2024-05-17"}),
                    created_at=now,
                    updated_at=now,
                    submitted_at=None if status == "draft" else now,
                )
            )
        bills = session.scalars(select(Bill).where(Bill.payer_user_id == ana.id)).all()
        still_open = [
            view.bill for view in with_status(session, list(bills)) if view.status == OPEN
        ]
        waiting = factories.payment(session, ana, still_open[:1])
        start_payment(  # opened at the provider and not paid yet: the page offers to check again
            waiting,
            payment_provider(wsgi_app.registry),
            description="Payment to the public services",
            return_url=f"{deployment.portal_url}/payments/{waiting.public_id}/return",
            notify_url=f"{deployment.portal_url}/billing/notifications/sandbox",
            now=now,
        )
        overdue = session.scalar(select(Bill).where(Bill.number == "W2605-citizen-chloe"))
        open_approval(
            session,
            kind=WRITE_OFF,
            department=overdue.service.department,
            subject=overdue.public_id,
            describe=lambda locale: f"Write-off of bill {overdue.service.code}/{overdue.number}",
            amount=Money(overdue.total_minor, overdue.currency),
            reason="The payer moved abroad",
            clerk=clara,
            now=now,
        )
        bruno = people["buyer-bruno"]
        new_tender(
            session,
            department=bruno.buying_departments[0],
            actor=bruno,
            title="Playground equipment",
            now=now,
            timezone=ZoneInfo("Europe/Ljubljana"),
        )
        receipt = session.scalars(select(Receipt)).first()
        tenders = session.scalars(select(Tender.reference)).all()
        return {
            "visitor": [f"/verify/{receipt.verification_code}"]
            + [f"/tenders/{reference}" for reference in tenders],
            "Bruno Bregar": [f"/procurement/tenders/{reference}" for reference in tenders],
            "Ana Novak": [f"/payments/{waiting.public_id}"],
            "Clara Zupan": [f"/backoffice/payers/user/{ana.id}"],
            "Ada Lovrec": [f"/admin/privacy/erasure/{ana.id}"],
        }


#: forms each persona sends empty, to check them shown again with their errors:
#: (path, the submit button)
EMPTY_FORMS = {
    "Ana Novak": (
        ("/bills", "#pay-0 > [type=submit]"),
        ("/applications/new/vehicle-registration", "#application-form [value=submit]"),
    ),
    "Bruno Bregar": (("/procurement/tenders", "#new-tender [type=submit]"),),
    "Ada Lovrec": (
        ("/admin/fees", "#fee-form [type=submit]"),
        ("/admin/privacy/erasure", "#erasure-search [type=submit]"),
    ),
}


def visits(world: dict, personas, language: str | None = None) -> list[Visit]:
    """A visitor's walk and each of ``personas``' walks, in ``language``."""
    return [Visit(None, ("/", "/nowhere", *world["visitor"]), language)] + [
        Visit(
            persona.display_name,
            START + tuple(world.get(persona.display_name, ())),
            language,
            EMPTY_FORMS.get(persona.display_name, ()),
        )
        for persona in personas
    ]


def test_every_page_as_every_persona(deployment, wsgi_app, whole_world):
    assert AXE.exists(), f"{AXE} is missing: npm ci (make assets) installs axe-core"
    findings, seconds = asyncio.run(
        sweep(
            deployment.portal_url, wsgi_app, visits(whole_world, PERSONAS), per_route=2, at_once=2
        )
    )
    report_to("personas", findings, seconds)
    assert findings.report() == ""
    assert page_routes(wsgi_app) - set(findings.routes) == set(NOT_WALKED)


def test_every_page_in_every_language(deployment, wsgi_app, whole_world):
    assert LANGUAGES, "no catalogue found"
    one_of_each_role = list({persona.role: persona for persona in reversed(PERSONAS)}.values())
    findings, seconds = asyncio.run(
        sweep(
            deployment.portal_url,
            wsgi_app,
            [
                visit
                for language in LANGUAGES
                for visit in visits(whole_world, one_of_each_role, language)
            ],
            per_route=1,
            at_once=2,
        )
    )
    report_to("languages", findings, seconds)
    assert findings.report() == ""


def test_the_auction_page(deployment, wsgi_app, running_auction):
    """A live auction's page, as its scripts update it and as it refreshes itself without
    them: a refresh WCAG allows (2.2.1's real-time exception names auctions), the one
    finding axe-core cannot know to be allowed."""
    visit = Visit(None, (f"/tenders/{running_auction.reference}/auction",), follow_links=False)
    findings, seconds = asyncio.run(
        sweep(deployment.portal_url, wsgi_app, [visit], per_route=1, at_once=1)
    )
    report_to("auction", findings, seconds)
    assert [rule for rule, *_ in findings.violations] == ["meta-refresh"]
    assert all(
        where.endswith("JavaScript off")
        for where in findings.violations[next(iter(findings.violations))]
    )
    findings.violations.clear()
    assert findings.report() == ""


#: a small site with one problem on each page but the first: what the sweep must find
PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>{title}</title>{head}</head>'
    "<body><main><h1>{title}</h1>{body}</main></body></html>"
)
SITE = {
    "/": PAGE.format(
        title="Start",
        head="",
        body="".join(
            f'<p><a href="{path}">{path}</a></p>'
            for path in ("/grey", "/scripted", "/noscript", "/wide", "/file.pdf")
        ),
    ),
    "/grey": PAGE.format(title="Grey", head="", body='<p style="color: #aaa">Faint</p>'),
    "/scripted": PAGE.format(
        title="Scripted", head='<script src="/add-image.js" defer></script>', body=""
    ),
    "/noscript": PAGE.format(
        title="Noscript", head="", body='<noscript><img src="/x.png"></noscript>'
    ),
    "/wide": PAGE.format(title="Wide", head="", body='<div style="width: 500px">Wide</div>'),
}


def small_site(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/add-image.js":
        body, kind = "document.querySelector('main').append(new Image())", "text/javascript"
    elif path == "/file.pdf":
        body, kind = "%PDF-1.7", "application/pdf"
    else:
        body, kind = SITE.get(path, SITE["/"]), "text/html; charset=utf-8"
    start_response("200 OK", [("Content-Type", kind)])
    return [body.encode()]


def test_the_sweep_finds_what_it_should():
    """The machinery of the sweeps above: a problem seen only with JavaScript on, one only
    with it off, a colour contrast, a page too wide, a link to a file."""
    from pyramid.config import Configurator

    from tests.browser.conftest import LiveServer

    server = LiveServer()
    routes = Configurator()
    routes.add_route("file", "/file.pdf")
    routes.add_route("page", "/{name}")
    try:
        server.start(small_site)
        url = f"http://localhost:{server.port}"
        findings, _ = asyncio.run(
            sweep(url, routes.make_wsgi_app(), [Visit(None, ("/",))], per_route=9, at_once=1)
        )
    finally:
        server.stop()
    assert sorted(
        (rule, where) for (rule, *_), places in findings.violations.items() for where in places
    ) == [
        ("color-contrast", "visitor: /grey"),
        ("image-alt", "visitor: /noscript, JavaScript off"),
        ("image-alt", "visitor: /scripted, JavaScript on"),
    ]
    assert findings.overflow == {"visitor: /wide @ 375 px": 8 + 500 - 375}  # body margin
    assert findings.broken == {"visitor: /file.pdf": "not an HTML page"}
