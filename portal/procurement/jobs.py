"""The clock's job: moving tenders on when their periods end.

Pages show a tender's due status (:func:`portal.procurement.state.due_status`) and never
write; this job records the transitions, each tender in its own transaction so that one
tender's failure cannot hold back the others. It runs every minute, and a bid is refused at
the deadline by the request's own clock whether or not the job has run yet. Right after
moving tenders on, the same run closes the bids never submitted on the tenders that take no
more bids (:mod:`portal.procurement.deadline`): their money is given back or cancelled.
"""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import or_, select

from portal.clock import clock
from portal.procurement import deadline, state
from portal.procurement.models import AWARD_ACTIVE, Award, Tender
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)


def due_tenders(dbsession, now: dt.datetime) -> list[int]:
    """The ids of the tenders whose stored status the clock has overtaken at ``now``: their
    questions or bidding period ended, or their award's standstill (whether it moves on also
    depends on its complaints, which :func:`~portal.procurement.state.advance` reads)."""
    in_standstill = select(Award.tender_id).where(
        Award.status == AWARD_ACTIVE, Award.standstill_until <= now
    )
    return list(
        dbsession.scalars(
            select(Tender.id)
            .where(
                or_(
                    Tender.status.in_(state.OPEN_FOR_BIDS)
                    & or_(
                        Tender.bids_until <= now,
                        (Tender.status == state.QUESTIONS) & (Tender.questions_until <= now),
                    ),
                    (Tender.status == state.STANDSTILL) & Tender.id.in_(in_standstill),
                )
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


def close_unsubmitted(registry: Registry, tender_id: int) -> int:
    """Close one tender's bids never submitted, in its own transaction; how many lapsed."""
    with task_dbsession(registry) as dbsession:
        tender = dbsession.get_one(Tender, tender_id)
        lapsed = deadline.close_unsubmitted_bids(dbsession, tender, clock(registry).now())
        count, reference = len(lapsed), tender.reference
    if count:
        log.info("tender %s: %d bids not submitted closed", reference, count)
    return count


@periodic_task(crontab(minute="*"))
def advance_tenders(registry: Registry) -> int:
    """Move on every tender whose questions period or bidding period has ended, then close
    the bids never submitted on the tenders that take no more bids; returns how many tenders
    moved."""
    with task_dbsession(registry) as dbsession:
        ids = due_tenders(dbsession, clock(registry).now())
    moved = 0
    for tender_id in ids:
        try:
            moved += advance_tender(registry, tender_id)
        except Exception:
            log.exception("tender %d: moving it on failed; the next run tries again", tender_id)
    with task_dbsession(registry) as dbsession:
        closing = deadline.tenders_with_unsubmitted_bids(dbsession)
    for tender_id in closing:
        try:
            close_unsubmitted(registry, tender_id)
        except Exception:
            log.exception("tender %d: closing unsubmitted bids failed; next run again", tender_id)
    return moved
