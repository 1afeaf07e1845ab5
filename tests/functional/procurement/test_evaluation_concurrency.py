"""Decisions and awards under the tender's row lock: two decisions or two awards sent at once
(on PostgreSQL, in two threads) are taken once; the other is refused (409), never a 500, a
second decision on the next bid or a second award."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal.identity.models import User
from portal.procurement.award import make_award
from portal.procurement.models import Award, QualificationDecision, Tender
from portal.procurement.qualification import decide
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import opened_tender

TIMEOUT = 30


def at_once(registry, action, gate):
    """Run ``action(session, tender, bruno)`` in a transaction of its own once both threads
    are ready; the outcome, or what refused or broke it."""
    gate.wait(TIMEOUT)
    try:
        with task_dbsession(registry) as session:
            tender = session.scalars(select(Tender)).one()
            bruno = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
            action(session, tender, bruno)
            return "done"
    except Refusal as refused:
        return refused
    except Exception as failed:  # noqa: BLE001 - the test reports whatever went wrong
        return failed


def twice(wsgi_app, action) -> list:
    gate = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        return list(
            pool.map(lambda _n: at_once(wsgi_app.registry, action, gate), range(2), timeout=TIMEOUT)
        )


@pytest.mark.postgresql
def test_two_decisions_and_two_awards_at_once_are_taken_once(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    peter = made.bid(dbsession, "rep-peter").public_id
    now = clock.now()

    def qualify(session, tender, bruno):
        decide(
            session,
            tender,
            bid_public_id=peter,
            outcome="qualified",
            reason="Fine.",
            now=now,
            actor=bruno,
        )

    results = twice(wsgi_app, qualify)
    assert results.count("done") == 1, results
    (refused,) = [r for r in results if isinstance(r, Refusal)]
    assert refused.kind == "conflict"

    def award(session, tender, bruno):
        make_award(
            session,
            tender,
            bid_public_id=peter,
            reasons="Cheapest, qualified.",
            now=now,
            actor=bruno,
            days=10,
            timezone=ZoneInfo("Europe/Ljubljana"),
        )

    results = twice(wsgi_app, award)
    assert results.count("done") == 1, results
    (refused,) = [r for r in results if isinstance(r, Refusal)]
    assert refused.message.interpolate() == "This tender is not under evaluation."
    dbsession.expire_all()
    assert dbsession.scalar(select(func.count()).select_from(QualificationDecision)) == 1
    assert dbsession.scalar(select(func.count()).select_from(Award)) == 1
    assert dbsession.get_one(Tender, made.tender.id).status == "standstill"
