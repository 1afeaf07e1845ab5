"""The auction under concurrent requests, on PostgreSQL's row locks: steps posted at once in
one slot are recorded once (the others refused, not a 500), and an auction finished by
several readers and the job at once is finished once, with one protocol.

The threads run what the views and the job run, each in its own transaction.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.clock import clock as app_clock
from portal.identity.models import User
from portal.money import Money
from portal.procurement import auction as auctions
from portal.procurement.models import (
    AuctionBidder,
    AuctionProtocol,
    AuctionStep,
    Tender,
    TenderTransition,
)
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests.functional.procurement.auction_support import at_slot, auction_of, auction_tender

THREADS = 6
TIMEOUT = 30


def place(registry, tender_id: int, bidder_id: int, user_id: int, minor: int, start):
    start.wait(TIMEOUT)
    try:
        with task_dbsession(registry) as session:
            step = auctions.place_step(
                session,
                session.get_one(Tender, tender_id),
                session.get_one(AuctionBidder, bidder_id),
                session.get_one(User, user_id),
                price=Money(minor, "EUR"),
                now=app_clock(registry).now(),
            )
            return step.price_minor
    except Refusal as refused:
        return refused


def finish(registry, tender_id: int, start) -> bool:
    start.wait(TIMEOUT)
    with task_dbsession(registry) as session:
        tender = session.get_one(Tender, tender_id)
        return auctions.finish_if_due(session, tender, app_clock(registry).now())


@pytest.mark.postgresql
def test_steps_at_once_are_recorded_once_and_the_auction_finishes_once(
    wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, departments
):
    made = auction_tender(
        wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, step_minor=1_000_00
    )
    auction = auction_of(dbsession, made)
    quinn_bidder = next(b for b in auction.bidders if b.label == "A")
    quinn = dbsession.scalars(select(User).where(User.name_id == "rep-quinn")).one()
    ids = (made.tender.id, quinn_bidder.id, quinn.id)
    at_slot(clock, auction, 1, 0)

    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(
            pool.map(
                lambda n: place(wsgi_app.registry, *ids, 189_000_00 - n * 100_00, start),
                range(THREADS),
            )
        )
    accepted = [r for r in results if not isinstance(r, Refusal)]
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(accepted) == 1 and len(refused) == THREADS - 1
    assert {r.message.interpolate() for r in refused} == {
        "You have made your step in this round already."
    }
    dbsession.expire_all()
    (step,) = dbsession.scalars(select(AuctionStep)).all()
    assert step.price_minor == accepted[0] == dbsession.get(AuctionBidder, ids[1]).price_minor

    clock.set(auction.ends_at)
    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        finished = list(
            pool.map(lambda _n: finish(wsgi_app.registry, made.tender.id, start), range(THREADS))
        )
    assert sorted(finished) == [False] * (THREADS - 1) + [True]
    dbsession.expire_all()
    protocols = dbsession.scalar(
        select(func.count())
        .select_from(AuctionProtocol)
        .where(AuctionProtocol.auction_tender_id == made.tender.id)
    )
    to_evaluation = dbsession.scalar(
        select(func.count())
        .select_from(TenderTransition)
        .where(
            TenderTransition.tender_id == made.tender.id,
            TenderTransition.to_status == "evaluation",
        )
    )
    assert (protocols, to_evaluation) == (1, 1)
    assert dbsession.scalar(select(func.count()).select_from(AuctionStep)) == 9
