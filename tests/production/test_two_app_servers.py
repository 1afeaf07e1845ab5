"""What two app servers (deploy/Procfile's web1 and web2: gunicorn, production.ini, two worker
processes each) must share, shown on real processes with one PostgreSQL database and one
Redis: a session, the rate limit, the record of consumed SAML answers and the idempotency keys.
nginx may send any request to either server; each of these holds whichever server answers."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyramid.paster import get_appsettings
from sqlalchemy import func, select

import portal
from deploy.check_prod_local import Browser, form_with
from portal.billing.models import Bill, Payment
from portal.identity.models import SamlAssertionUse, User
from portal.settings import apply_environment
from portal.tasks import task_dbsession
from tests import factories
from tests.conftest import ROOT, query_of

pytestmark = pytest.mark.postgresql

PERSONA = "citizen-ana"
ALREADY_USED = "This sign-in answer has already been used."
NOT_STARTED_HERE = "This sign-in answer does not belong to a sign-in started here."


def idp_answer(browser: Browser, server: str, idp) -> dict[str, str]:
    """Start signing in at ``server``; the IdP's answer, as its page would post it."""
    start = browser.get(f"{server}/saml/login", params={"next": "/account"}, allow_redirects=False)
    assert start.status_code == 303, start.text
    _, saml_response, relay_state = idp.respond(query_of(start.headers["Location"]), PERSONA)
    return {"SAMLResponse": saml_response, "RelayState": relay_state or ""}


def post_answer(browser: Browser, server: str, answer: dict[str, str], cookies=None):
    return browser.post(f"{server}/saml/acs", data=answer, cookies=cookies, allow_redirects=False)


def signed_in(browser: Browser, server: str, idp) -> Browser:
    landed = post_answer(browser, server, idp_answer(browser, server, idp))
    assert landed.status_code == 303, landed.text
    return browser


@pytest.fixture
def browser():
    """A new browser each call; all closed at the test's end (a kept-alive connection left
    open would hold an app server's graceful shutdown for its whole timeout)."""
    made: list[Browser] = []

    def new() -> Browser:
        made.append(Browser())
        return made[-1]

    yield new
    for each in made:
        each.close()


@pytest.fixture(scope="module")
def portal_app(app_servers, environment):
    """The portal in this process, on the same database, to arrange bills and count rows."""
    settings = apply_environment(dict(get_appsettings(str(ROOT / "production.ini"))), environment)
    return portal.main({}, **settings)


def test_a_session_made_on_one_app_server_works_on_the_other(app_servers, idp, browser):
    one, two = app_servers
    ana = signed_in(browser(), one, idp)

    account = ana.get(f"{two}/account", allow_redirects=False)
    assert account.status_code == 200
    assert "Ana" in account.text

    sign_out = form_with(account.text, "csrf_token", action="/logout")
    ana.post(f"{two}{sign_out['action']}", data=sign_out["fields"], allow_redirects=False)
    assert ana.get(f"{one}/account", allow_redirects=False).status_code == 303


def test_the_rate_limit_counts_requests_to_both_app_servers(app_servers, browser):
    """/verify allows 20 checks a minute per client: 10 at each server use them all up, in
    whichever of the four worker processes they land."""
    one, two = app_servers
    client = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    visitor = browser()
    for turn in range(20):
        server = (one, two)[turn % 2]
        assert visitor.get(f"{server}/verify/ABCDEFGHJK", headers=client).status_code == 404
    assert visitor.get(f"{one}/verify/ABCDEFGHJK", headers=client).status_code == 429
    assert visitor.get(f"{two}/verify/ABCDEFGHJK", headers=client).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.77"}
    assert visitor.get(f"{two}/verify/ABCDEFGHJK", headers=other).status_code == 404


def test_a_sign_in_answer_used_on_one_app_server_is_refused_by_the_other(app_servers, idp, browser):
    """Replayed later with the browser's cookie of the time: refused."""
    one, two = app_servers
    ana = browser()
    answer = idp_answer(ana, one, idp)
    cookie_then = dict(ana.cookies)
    assert post_answer(ana, one, answer).status_code == 303

    replayed = post_answer(browser(), two, answer, cookies=cookie_then)
    assert replayed.status_code == 400
    assert NOT_STARTED_HERE in replayed.text or ALREADY_USED in replayed.text
    assert "portal_session" not in replayed.cookies


def test_one_sign_in_answer_posted_to_both_app_servers_at_once_signs_in_once(
    app_servers, idp, portal_app, browser
):
    """The same answer at the same moment to both servers (a replay racing the browser):
    whichever comes second is refused, by the record of consumed assertions."""
    one, two = app_servers
    for _ in range(3):
        ana = browser()
        answer = idp_answer(ana, one, idp)
        cookies = dict(ana.cookies)
        senders = {one: browser(), two: browser()}
        barrier = threading.Barrier(2)

        def post(server, answer=answer, cookies=cookies, barrier=barrier, senders=senders):
            barrier.wait(timeout=30)
            return post_answer(senders[server], server, answer, cookies=cookies)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, (one, two)))
        assert sorted(a.status_code for a in answers) == [303, 400]
        refused = next(a for a in answers if a.status_code == 400)
        assert ALREADY_USED in refused.text or NOT_STARTED_HERE in refused.text

    with task_dbsession(portal_app.registry) as dbsession:
        consumed = dbsession.scalar(select(func.count()).select_from(SamlAssertionUse))
    assert consumed >= 3


def test_an_idempotency_key_used_on_one_app_server_is_honoured_by_the_other(
    app_servers, idp, portal_app, browser
):
    """Pay pressed twice, the second press reaching the other server: one payment."""
    one, two = app_servers
    ana = signed_in(browser(), one, idp)
    with task_dbsession(portal_app.registry) as dbsession:
        payer = dbsession.scalar(select(User).order_by(User.id.desc()).limit(1))
        bill_id = factories.bill(dbsession, payer=payer).public_id

    page = ana.get(f"{one}/bills")
    form = form_with(page.text, "only")
    fields = {"csrf_token": form["fields"]["csrf_token"], "only": bill_id}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = ana.post(f"{one}/bills/pay", data=fields, headers=key, allow_redirects=False)
    second = ana.post(f"{two}/bills/pay", data=fields, headers=key, allow_redirects=False)

    assert first.status_code == second.status_code == 303, (first.text, second.text)
    assert first.headers["Location"] == second.headers["Location"]
    with task_dbsession(portal_app.registry) as dbsession:
        bill = dbsession.scalar(select(Bill).where(Bill.public_id == bill_id))
        payments = dbsession.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.allocations.any(bill_id=bill.id))
        )
    assert payments == 1
