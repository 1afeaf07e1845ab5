"""Under the tender's row lock (PostgreSQL, two threads behind a barrier): two contracts
recorded at once record one and give the winner's security back once; a refusal to sign and
a cancellation at once move the winner's security once, whichever comes first."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.identity.models import User
from portal.procurement import files
from portal.procurement.contract import SignedContract, record_contract, record_refusal
from portal.procurement.models import Contract, Tender
from portal.procurement.tenders import cancel_tender
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import opened_tender
from tests.functional.procurement.contract_support import (
    HELD,
    KEPT,
    SIGNED,
    award,
    balance,
    past_standstill,
    refund_count,
)

TIMEOUT = 60
pytestmark = pytest.mark.postgresql


@pytest.fixture
def contracting(wsgi_app, devidp, sandbox, dbsession, clock, departments):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    past_standstill(wsgi_app, clock)
    return made


def at_once(registry, tender_id: int, now: dt.datetime, actions) -> list:
    """Run each of ``actions`` (session, tender, buyer -> result) in its own transaction and
    thread, all released at once; what each returned, refused or raised."""
    gate = threading.Barrier(len(actions))

    def run(action):
        gate.wait(TIMEOUT)
        try:
            with task_dbsession(registry) as session:
                tender = session.get_one(Tender, tender_id)
                buyer = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
                return action(session, tender, buyer, now)
        except Refusal as refused:
            return refused
        except Exception as failed:  # noqa: BLE001 - the test reports whatever went wrong
            return failed

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(run, actions, timeout=TIMEOUT))


def signed(now: dt.datetime) -> SignedContract:
    document = files.Upload("contract.pdf", "application/pdf", SIGNED)
    return SignedContract(176_950_00, now.date(), document)


def test_two_contracts_at_once_record_one(contracting, wsgi_app, dbsession, clock):
    def recording(session, tender, buyer, now):
        record_contract(session, tender, signed(now), actor=buyer, now=now)
        return "recorded"

    results = at_once(wsgi_app.registry, contracting.tender.id, clock.now(), [recording] * 2)
    assert results.count("recorded") == 1, results
    (refused,) = [r for r in results if isinstance(r, Refusal)]
    assert refused.message.interpolate() == "The contract of this tender is recorded already."
    assert dbsession.scalar(select(func.count()).select_from(Contract)) == 1
    assert balance(dbsession, HELD) == 0 and refund_count(dbsession) == 3


def test_a_refusal_and_a_cancellation_at_once_move_the_winners_security_once(
    contracting, wsgi_app, dbsession, clock
):
    def refusing(session, tender, buyer, now):
        record_refusal(session, tender, "Would not sign.", actor=buyer, now=now)
        return "refused to sign"

    def cancelling(session, tender, buyer, now):
        cancel_tender(session, tender, actor=buyer, reason="Budget withdrawn.", now=now)
        return "cancelled"

    results = at_once(wsgi_app.registry, contracting.tender.id, clock.now(), [refusing, cancelling])
    assert "cancelled" in results, results
    dbsession.expire_all()
    assert dbsession.get_one(Tender, contracting.tender.id).status == "cancelled"
    peter = contracting.bid(dbsession, "rep-peter").deposit
    if results[0] == "refused to sign":  # the refusal first, then the cancellation
        assert peter.status == "forfeited"
        assert balance(dbsession, KEPT) == -1_000_00 and refund_count(dbsession) == 2
    else:  # the cancellation first: the tender no longer awaits a contract
        assert isinstance(results[0], Refusal), results
        assert peter.status == "released"
        assert balance(dbsession, KEPT) == 0 and refund_count(dbsession) == 3
    assert balance(dbsession, HELD) == 0
