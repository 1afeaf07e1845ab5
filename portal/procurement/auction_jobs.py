"""The clock's job for auctions: finishing those whose last slot has closed.

Any page that reads an auction finishes it too (:mod:`portal.procurement.auction_views`), so
the job is there for the auctions nobody watches at their end: the tender must go on to its
evaluation and the protocol be published all the same. Each auction finishes in its own
transaction, so one failure cannot hold back the others.
"""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import select

from portal.clock import clock
from portal.procurement import auction, state
from portal.procurement.models import (
    AUCTION_SCHEDULED,
    Auction,
    Tender,
)
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)


def due_auctions(dbsession, now: dt.datetime) -> list[int]:
    """The ids of the tenders whose auction's last slot closed by ``now``, still unfinished."""
    return list(
        dbsession.scalars(
            select(Tender.id)
            .join(Auction, Auction.tender_id == Tender.id)
            .where(
                Tender.status == state.AUCTION,
                Auction.status == AUCTION_SCHEDULED,
                Auction.ends_at <= now,
            )
            .order_by(Tender.id)
        )
    )


def finish_auction(registry: Registry, tender_id: int) -> bool:
    """Finish one tender's auction in its own transaction; whether this run finished it."""
    with task_dbsession(registry) as dbsession:
        tender = dbsession.get_one(Tender, tender_id)
        finished = auction.finish_if_due(dbsession, tender, clock(registry).now())
        reference = tender.reference
    if finished:
        log.info("tender %s: auction finished by the clock", reference)
    return finished


@periodic_task(crontab(minute="*"))
def finish_auctions(registry: Registry) -> int:
    """Finish every auction whose last slot has closed; how many this run finished."""
    with task_dbsession(registry) as dbsession:
        ids = due_auctions(dbsession, clock(registry).now())
    finished = 0
    for tender_id in ids:
        try:
            finished += finish_auction(registry, tender_id)
        except Exception:
            log.exception("tender %d: finishing its auction failed; next run again", tender_id)
    return finished
