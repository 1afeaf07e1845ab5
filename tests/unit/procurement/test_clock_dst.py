"""The clock's job moves tenders on when their periods end, at the very second, also on the
days the clocks change: a deadline at 10:00 local time stays 10:00 local time."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.procurement import state
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import Tender, TenderTransition
from portal.tasks import task_queue
from tests import factories

ZONE = ZoneInfo("Europe/Ljubljana")
SECOND = dt.timedelta(seconds=1)


def stored(engine, tender_id: int) -> tuple[str, list[tuple]]:
    with engine.connect() as connection:
        status = connection.scalar(select(Tender.status).where(Tender.id == tender_id))
        steps = connection.execute(
            select(
                TenderTransition.from_status,
                TenderTransition.to_status,
                TenderTransition.at,
                TenderTransition.actor_id,
                TenderTransition.cause,
            )
            .where(TenderTransition.tender_id == tender_id)
            .order_by(TenderTransition.id)
        ).all()
    return status, [tuple(step) for step in steps]


@pytest.mark.parametrize(
    ("deadline_day", "deadline_utc"),
    [
        # clocks go forward at 02:00: 10:00 is summer time, UTC+2
        (dt.date(2027, 3, 28), dt.datetime(2027, 3, 28, 8, 0, tzinfo=dt.UTC)),
        # clocks go back at 03:00: 10:00 is winter time, UTC+1
        (dt.date(2027, 10, 31), dt.datetime(2027, 10, 31, 9, 0, tzinfo=dt.UTC)),
    ],
)
def test_the_job_closes_bidding_at_ten_local_on_the_day_the_clocks_change(
    dbsession, engine, wsgi_app, clock, caplog, deadline_day, deadline_utc
):
    created = deadline_utc - dt.timedelta(days=10)
    clock.set(created)
    tender = factories.tender(dbsession, now=created)
    deadline = dt.datetime.combine(deadline_day, dt.time(10, 0), ZONE)
    assert deadline == deadline_utc
    tender.questions_until = dt.datetime.combine(
        deadline_day - dt.timedelta(days=3), dt.time(10, 0), ZONE
    )
    tender.bids_until = deadline
    tender.opening_at = deadline + dt.timedelta(hours=1)
    dbsession.commit()
    registry = wsgi_app.registry

    clock.set(tender.questions_until - SECOND)
    assert advance_tenders(registry) == 0
    clock.set(tender.questions_until)
    assert advance_tenders(registry) == 1
    clock.set(deadline_utc - SECOND)
    assert advance_tenders(registry) == 0
    assert stored(engine, tender.id)[0] == state.BIDDING
    clock.set(deadline_utc)
    with caplog.at_level(logging.INFO, logger="portal.procurement.jobs"):
        assert advance_tenders(registry) == 1

    status, steps = stored(engine, tender.id)
    assert status == state.AWAITING_OPENING
    assert [(f, t, actor, cause) for f, t, _at, actor, cause in steps] == [
        ("draft", "questions", tender.created_by_id, "published"),
        ("questions", "bidding", None, "questions period ended"),
        ("bidding", "awaiting_opening", None, "bid deadline passed"),
    ]
    closed_at = steps[-1][2]
    assert deadline_utc <= closed_at < deadline_utc + SECOND
    assert closed_at.astimezone(ZONE).time().replace(microsecond=0) == dt.time(10, 0)
    assert f"tender {tender.reference} moved by the clock: bidding -> awaiting_opening" in (
        caplog.text
    )
    assert advance_tenders(registry) == 0  # nothing more is due


def test_a_late_job_moves_a_tender_through_both_periods_at_once(dbsession, engine, wsgi_app, clock):
    created = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
    clock.set(created)
    tender = factories.tender(dbsession, now=created)
    draft = factories.tender(dbsession, now=created, published=False)
    dbsession.commit()

    clock.set(tender.bids_until + dt.timedelta(hours=5))
    assert advance_tenders(wsgi_app.registry) == 1

    status, steps = stored(engine, tender.id)
    assert status == state.AWAITING_OPENING
    assert [t for _f, t, *_ in steps] == ["questions", "bidding", "awaiting_opening"]
    assert stored(engine, draft.id)[0] == state.DRAFT


def test_the_job_is_one_of_the_workers_periodic_jobs(wsgi_app):
    """The worker runs the queue's periodic jobs (portal.scripts.worker); this one runs every
    minute."""
    huey = task_queue(wsgi_app.registry).huey
    for minute in (0, 1, 37):
        moment = dt.datetime(2027, 3, 28, 8, minute)
        assert "advance_tenders" in {job.name for job in huey.read_periodic(moment)}
