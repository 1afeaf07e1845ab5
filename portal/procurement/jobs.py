"""The clock's job: moving tenders on when their periods end.

Pages show a tender's due status (:func:`portal.procurement.state.due_status`) and never
write; this job records the transitions, each tender in its own transaction so that one
tender's failure cannot hold back the others. It runs every minute, and a bid is refused at
the deadline by the request's own clock whether or not the job has run yet.
"""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import or_, select

from portal.clock import clock
from portal.procurement import state
from portal.procurement.models import Tender
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)


def due_tenders(dbsession, now: dt.datetime) -> list[int]:
    """The ids of the tenders whose stored status the clock has overtaken at ``now``."""
    return list(
        dbsession.scalars(
            select(Tender.id)
            .where(
                Tender.status.in_(state.OPEN_FOR_BIDS),
                or_(
                    Tender.bids_until <= now,
                    (Tender.status == state.QUESTIONS) & (Tender.questions_until <= now),
                ),
            )
            .order_by(Tender.id)
        )
    )


def advance_tender(registry: Registry, tender_id: int) -> bool:
    """Record what the clock has made due for one tender, in its own transaction; whether
    it moved."""
    with task_dbsession(registry) as dbsession:
        tender = dbsession.get_one(Tender, tender_id)
        before = tender.status
        state.advance(dbsession, tender, clock(registry).now())
        after, reference = tender.status, tender.reference
    if after != before:
        log.info("tender %s moved by the clock: %s -> %s", reference, before, after)
    return after != before


@periodic_task(crontab(minute="*"))
def advance_tenders(registry: Registry) -> int:
    """Move on every tender whose questions period or bidding period has ended; returns how
    many tenders moved."""
    with task_dbsession(registry) as dbsession:
        ids = due_tenders(dbsession, clock(registry).now())
    moved = 0
    for tender_id in ids:
        try:
            moved += advance_tender(registry, tender_id)
        except Exception:
            log.exception("tender %d: moving it on failed; the next run tries again", tender_id)
    return moved
