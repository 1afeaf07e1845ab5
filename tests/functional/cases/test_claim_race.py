"""Two clerks claiming the same case at once, over real HTTP on PostgreSQL's row locks: one
has it, the other is told who was first, and the case records one claim."""

from __future__ import annotations

import functools
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import waitress
from sqlalchemy import func, select
from waitress import wasyncore

from portal.cases.models import Case, CaseAssignment, CaseTransition
from portal.cases.work import claim
from portal.clock import clock
from portal.identity.models import User
from portal.refusals import CONFLICT, Refusal
from portal.tasks import task_dbsession
from tests.functional.cases.conftest import the_case

pytestmark = pytest.mark.postgresql

TIMEOUT = 30
ROUNDS = 5


@pytest.fixture(scope="module")
def portal_url(wsgi_app):
    """The real portal WSGI app behind waitress on a free localhost port."""
    server = waitress.create_server(wsgi_app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(5)
    server.task_dispatcher.shutdown()


class Clerk:
    """A clerk's signed-in browser (through WebTest), its cookie and CSRF token used for real
    HTTP requests to the served portal."""

    def __init__(self, app, portal_url):
        page = app.get("/backoffice/cases")
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        self.cookie = app.cookies["portal_session"]
        self.url = portal_url

    def claim(self, public_id: str, version: int) -> requests.Response:
        return requests.post(
            f"{self.url}/backoffice/cases/{public_id}/claim",
            data={"csrf_token": self.token, "version": str(version)},
            headers={"Cookie": f"portal_session={self.cookie}", "Origin": "https://localhost"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )


def at_once(calls):
    barrier = threading.Barrier(len(calls))

    def released(call):
        barrier.wait(timeout=TIMEOUT)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def test_two_clerks_claiming_one_case_at_once_one_wins_and_the_other_is_told(
    browser, make_case, portal_url, dbsession
):
    clara = Clerk(browser("clerk-clara"), portal_url)
    ada = Clerk(browser("admin-ada"), portal_url)
    for round_ in range(ROUNDS):
        public_id = make_case("revenue", subject_id=f"pay_race_{round_}")
        answers = at_once([functools.partial(clerk.claim, public_id, 0) for clerk in (clara, ada)])
        assert sorted(a.status_code for a in answers) == [303, 409], [a.text for a in answers]
        (lost,) = [a for a in answers if a.status_code == 409]
        case = the_case(dbsession, public_id)
        winner = case.assignee.display_name
        assert f"{winner} claimed this case a moment before you" in lost.text
        assert case.version == 1 and case.state == "in_progress"
        for table in (CaseAssignment, CaseTransition):
            claims = dbsession.scalar(
                select(func.count()).select_from(table).where(table.case_id == case.id)
            )
            assert claims == (1 if table is CaseAssignment else 2)  # opened, claimed


def test_a_claim_that_read_the_case_unclaimed_waits_and_is_refused_by_the_version_guard(
    browser, make_case, wsgi_app, dbsession
):
    """The second claim read the case before the first committed (so the early check saw no
    assignee); its guarded UPDATE waits for the first's row lock, then matches no row."""
    browser("clerk-clara"), browser("admin-ada")
    public_id = make_case("revenue")
    registry = wsgi_app.registry
    read_unclaimed = threading.Event()
    outcome: dict = {}

    def second_clerk():
        with task_dbsession(registry) as session:
            case = session.scalars(select(Case).where(Case.public_id == public_id)).one()
            ada = session.scalars(select(User).where(User.name_id == "admin-ada")).one()
            assert case.assignee_id is None
            read_unclaimed.set()
            try:
                claim(session, case, ada, 0, clock(registry).now())
            except Refusal as refused:
                outcome["refused"] = refused

    with ThreadPoolExecutor(1) as pool:
        with task_dbsession(registry) as session:
            case = session.scalars(select(Case).where(Case.public_id == public_id)).one()
            clara = session.scalars(select(User).where(User.name_id == "clerk-clara")).one()
            claim(session, case, clara, 0, clock(registry).now())
            waiting = pool.submit(second_clerk)
            assert read_unclaimed.wait(TIMEOUT)
            time.sleep(0.5)  # the second claim is now waiting for this row lock
            assert not waiting.done()
        waiting.result(TIMEOUT)
    refused = outcome["refused"]
    assert refused.kind == CONFLICT
    assert refused.message.mapping == {"name": "Clara Zupan"}
    assert the_case(dbsession, public_id).assignee.name_id == "clerk-clara"
