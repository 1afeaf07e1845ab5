"""The deadline under concurrent submissions, on PostgreSQL's row locks: bids submitted at once
are each sealed exactly once, and submissions still waiting for the tender's lock when the
deadline passes are all refused, none lost and none doubled.

The threads run :func:`portal.procurement.bids.submit_bid` (what the submit view runs) each in
its own transaction, as concurrent requests do; there are more bidders than the development
IdP's two representatives, so they are made directly.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select, text

from portal.clock import clock as app_clock
from portal.identity.models import Organisation
from portal.money import Money
from portal.procurement import bids
from portal.procurement.models import Bid, BidReceipt, BidVersion, Tender
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.procurement.bidding import needs_bid_receipts, open_tender
from tests.sandbox.conftest import wait_until

BIDDERS = 8
TIMEOUT = 30


@pytest.fixture
def prepared(dbsession, clock, wsgi_app):
    """A tender without fee or security and BIDDERS organisations with a draft ready each."""
    needs_bid_receipts(wsgi_app)
    tender = open_tender(dbsession, clock, fee=0, deposit=0, quality=False)
    made = []
    for n in range(BIDDERS):
        rep = factories.user(dbsession, f"rep-{n}")
        rep.organisations = [Organisation(registration_number=f"ORG-{n}", name=f"Bidder {n}")]
        dbsession.flush()
        bid = bids.start_bid(
            dbsession,
            tender,
            rep.organisations[0],
            user=rep,
            now=clock.now(),
            timezone=clock.timezone,
        )
        price = Money(100_000_00 + n, "EUR")
        bids.save_draft(bid, price, {}, now=clock.now(), vault=wsgi_app.registry["pii_vault"])
        made.append((bid.id, rep.id))
    dbsession.commit()
    return tender, made


def submit(registry, bid_id: int, user_id: int, start: threading.Barrier | None):
    """One submission in its own transaction: the version's id, or the refusal."""
    from portal.identity.models import User

    if start is not None:
        start.wait(TIMEOUT)
    try:
        with task_dbsession(registry) as session:
            bid = session.get(Bid, bid_id)
            version = bids.submit_bid(
                session,
                registry,
                bid,
                user=session.get(User, user_id),
                clock=app_clock(registry),
                locale="en",
            )
            return version.id
    except Refusal as refused:
        return refused


@pytest.mark.postgresql
def test_simultaneous_submissions_are_each_sealed_once(prepared, wsgi_app, dbsession):
    """Every bidder submits at once, each twice (a double click): each bid is sealed exactly
    once, the second click of each finds the draft already sealed and is refused."""
    tender, made = prepared
    clicks = made + made
    start = threading.Barrier(len(clicks))
    with ThreadPoolExecutor(len(clicks)) as pool:
        results = list(
            pool.map(lambda pair: submit(wsgi_app.registry, *pair, start), clicks, timeout=TIMEOUT)
        )
    accepted = [result for result in results if isinstance(result, int)]
    refused = [result for result in results if isinstance(result, Refusal)]
    assert len(accepted) == len(refused) == len(made), results
    assert all(r.kind == "conflict" for r in refused)
    dbsession.expire_all()
    versions = dbsession.scalars(select(BidVersion)).all()
    assert sorted(v.id for v in versions) == sorted(accepted)
    assert sorted(v.bid_id for v in versions) == sorted(bid_id for bid_id, _ in made)
    assert all(v.number == 1 and v.submitted_at < tender.bids_until for v in versions)
    numbers = dbsession.scalars(select(BidReceipt.number)).all()
    assert len(numbers) == len(set(numbers)) == len(made)


@pytest.mark.postgresql
def test_submissions_waiting_for_the_lock_when_the_deadline_passes_are_refused(
    prepared, wsgi_app, dbsession, engine, clock
):
    """Half submit in time; the other half arrive while the tender is locked (as by a slow
    submission), wait, and get the lock only after the deadline: each of those is refused,
    though each was sent before the deadline."""
    tender, made = prepared
    early, late = made[: BIDDERS // 2], made[BIDDERS // 2 :]
    with ThreadPoolExecutor(len(made)) as pool:
        for result in pool.map(lambda pair: submit(wsgi_app.registry, *pair, None), early):
            assert isinstance(result, int), result
        clock.set(tender.bids_until - dt.timedelta(milliseconds=200))
        holder = create_engine(engine.url)
        with holder.connect() as connection:
            transaction = connection.begin()
            connection.execute(select(Tender.id).where(Tender.id == tender.id).with_for_update())
            waiting = [
                pool.submit(submit, wsgi_app.registry, bid_id, user_id, None)
                for bid_id, user_id in late
            ]
            wait_until(lambda: blocked(engine) >= len(late), timeout=TIMEOUT)
            clock.set(tender.bids_until)
            transaction.commit()
        holder.dispose()
        results = [future.result(TIMEOUT) for future in waiting]
    assert all(isinstance(result, Refusal) for result in results), results
    assert all("deadline has passed" in r.message.interpolate() for r in results)
    dbsession.expire_all()
    versions = dbsession.scalars(select(BidVersion)).all()
    assert sorted(v.bid_id for v in versions) == sorted(bid_id for bid_id, _ in early)
    assert all(v.submitted_at < tender.bids_until for v in versions)
    assert dbsession.scalar(select(func.count()).select_from(BidReceipt)) == len(early)
    for bid_id, _user in late:
        bid = dbsession.get(Bid, bid_id)
        assert bid.status == "draft" and bid.draft_sealed is not None


def blocked(engine) -> int:
    """How many connections wait for a lock now."""
    with engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
