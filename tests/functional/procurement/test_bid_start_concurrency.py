"""Starting a bid under the tender's row lock, on PostgreSQL: two representatives of one
organisation (or a double click) starting at once get the one bid, billed once, and no
error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.billing.models import Bill
from portal.identity.models import Organisation, User
from portal.procurement import bids
from portal.procurement.models import Bid, Tender
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.procurement.bidding import open_tender

CLICKS = 6
TIMEOUT = 30


def start(registry, tender_id: int, organisation_id: int, user_id: int, now, timezone, gate):
    """One "Start a bid" in its own transaction: the bid's id, or what went wrong."""
    gate.wait(TIMEOUT)
    try:
        with task_dbsession(registry) as session:
            bid = bids.start_bid(
                session,
                session.get_one(Tender, tender_id),
                session.get_one(Organisation, organisation_id),
                user=session.get_one(User, user_id),
                now=now,
                timezone=timezone,
            )
            return bid.id
    except Exception as failed:  # noqa: BLE001 - the test reports whatever went wrong
        return failed


@pytest.mark.postgresql
def test_starting_at_once_gives_one_bid_billed_once(dbsession, clock, wsgi_app):
    tender = open_tender(dbsession, clock, quality=False)
    organisation = Organisation(registration_number="ORG-1", name="Bidder One")
    reps = []
    for n in range(CLICKS // 2):
        rep = factories.user(dbsession, f"rep-{n}")
        rep.organisations = [organisation]
        reps.append(rep)
    dbsession.commit()
    gate = threading.Barrier(CLICKS)
    clicks = [rep.id for rep in reps] * 2
    with ThreadPoolExecutor(CLICKS) as pool:
        results = list(
            pool.map(
                lambda user_id: start(
                    wsgi_app.registry,
                    tender.id,
                    organisation.id,
                    user_id,
                    clock.now(),
                    clock.timezone,
                    gate,
                ),
                clicks,
                timeout=TIMEOUT,
            )
        )
    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    dbsession.expire_all()
    assert dbsession.scalar(select(func.count()).select_from(Bid)) == 1
    assert dbsession.scalar(select(func.count()).select_from(Bill)) == 2  # one fee, one deposit
