"""Finding entries in the log: by person (as actor or subject), object, action and time,
newest first, a page at a time; personal data shown masked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry

#: what stands for the hidden part of a personal value: always as long, so it does not tell
#: how long the value is
MASK = "\u2022" * 5


@dataclass(frozen=True)
class AuditFilters:
    """What to look for; an empty field does not filter. ``action`` finds that action and,
    as a prefix, its family (``payment`` finds ``payment.succeeded``)."""

    person_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    since: dt.datetime | None = None
    before: dt.datetime | None = None


def find_entries(
    dbsession: Session, filters: AuditFilters, *, older_than: int | None, limit: int
) -> list[AuditEntry]:
    """Up to ``limit`` entries matching ``filters``, newest first, starting below seq
    ``older_than`` (the last one of the previous page), so later pages cost no more than the
    first however long the log is."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if filters.person_id is not None:
        query = query.where(
            or_(
                AuditEntry.actor_id == filters.person_id, AuditEntry.subject_id == filters.person_id
            )
        )
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.action:
        family = filters.action.rstrip(".")
        query = query.where(
            or_(
                AuditEntry.action == family,
                AuditEntry.action.startswith(family + ".", autoescape=True),
            )
        )
    if filters.since is not None:
        query = query.where(AuditEntry.occurred_at >= filters.since)
    if filters.before is not None:
        query = query.where(AuditEntry.occurred_at < filters.before)
    if older_than is not None:
        query = query.where(AuditEntry.seq < older_than)
    return list(dbsession.scalars(query))


def masked_personal(personal: dict | None) -> dict[str, str] | None:
    """``personal`` with each value masked (its first character kept, enough to tell two
    apart at a glance): the auditor sees that personal data was recorded and of what kind,
    not the data itself. ``None`` when there is none (or it was redacted)."""
    if personal is None:
        return None
    return {
        str(key): (value[:1] + MASK if isinstance(value, str) and len(value) > 3 else MASK)
        for key, value in personal.items()
    }
