"""Finding published tenders: the public list's search and filters, in SQL.

A tender's status is shown and filtered as the clock says it is (its *due* status, see
:func:`portal.procurement.state.due_status`), not as last recorded: the job that records it
runs every minute, and a page read a second after a deadline must not call the tender open.
:func:`due_status_sql` is that same rule as a SQL expression, so the filter and the page
agree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Select, case, or_, select

from portal.identity.models import Department
from portal.procurement import state
from portal.procurement.models import Tender, TenderItem

#: the statuses a visitor filters by (a draft is never listed)
STATUSES = (
    state.QUESTIONS,
    state.BIDDING,
    state.AWAITING_OPENING,
    state.OPENED,
    state.AUCTION,
    state.EVALUATION,
    state.STANDSTILL,
    state.CONTRACTING,
    state.COMPLETE,
    state.UNSUCCESSFUL,
    state.CANCELLED,
)
#: a CPV code, or the start of one: up to eight digits, then possibly its check digit
CPV_PREFIX = re.compile(r"^([0-9]{1,8})(?:-[0-9])?$")
MAX_QUERY = 200


@dataclass(frozen=True)
class TenderFilters:
    """What a visitor searches for; empty or ``None`` means any."""

    text: str = ""
    status: str = ""
    buyer: str = ""
    cpv_prefix: str = ""
    deadline_from: dt.datetime | None = None
    #: exclusive: the start of the day after the last day asked for
    deadline_before: dt.datetime | None = None


def due_status_sql(now: dt.datetime):
    """:func:`portal.procurement.state.due_status` as a SQL expression."""
    return case(
        (
            Tender.status.in_(state.OPEN_FOR_BIDS) & (Tender.bids_until <= now),
            state.AWAITING_OPENING,
        ),
        (
            (Tender.status == state.QUESTIONS) & (Tender.questions_until <= now),
            state.BIDDING,
        ),
        else_=Tender.status,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def published_tenders(filters: TenderFilters, now: dt.datetime) -> Select:
    """The published tenders matching ``filters``, soonest deadline first."""
    query = select(Tender).where(Tender.status.in_(state.PUBLISHED))
    if filters.text:
        pattern = _like(filters.text)
        query = query.where(
            or_(
                Tender.title.ilike(pattern, escape="\\"),
                Tender.description.ilike(pattern, escape="\\"),
                Tender.reference.ilike(pattern, escape="\\"),
            )
        )
    if filters.status:
        query = query.where(due_status_sql(now) == filters.status)
    if filters.buyer:
        query = query.where(
            Tender.department_id.in_(select(Department.id).where(Department.code == filters.buyer))
        )
    if filters.cpv_prefix:
        query = query.where(
            Tender.id.in_(
                select(TenderItem.tender_id).where(
                    TenderItem.cpv_code.startswith(filters.cpv_prefix, autoescape=True)
                )
            )
        )
    if filters.deadline_from is not None:
        query = query.where(Tender.bids_until >= filters.deadline_from)
    if filters.deadline_before is not None:
        query = query.where(Tender.bids_until < filters.deadline_before)
    return query.order_by(Tender.bids_until, Tender.id)


def buyers(dbsession) -> list[Department]:
    """The departments that have published a tender, for the buyer filter."""
    return list(
        dbsession.scalars(
            select(Department)
            .where(
                Department.id.in_(
                    select(Tender.department_id).where(Tender.status.in_(state.PUBLISHED))
                )
            )
            .order_by(Department.name)
        )
    )
