"""Anchors: the chain's head (seq and hash) written where the database's administrators
cannot rewrite it, the logs (shipped off the machine in production) and from there anywhere
it is published. Rewriting history after an anchor means recomputing every later hash,
which no longer matches the anchor; ``portal-audit verify --anchor SEQ:HASH`` checks one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import GENESIS, AuditEntry, AuditHead
from portal.audit.trail import record
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def anchor(dbsession: Session) -> Anchor:
    """The chain's committed head, logged and recorded as an ``audit.anchor`` entry (which
    itself becomes part of the chain the next anchor covers)."""
    head = dbsession.execute(select(AuditHead.seq, AuditHead.hash)).first()
    point = Anchor(*head) if head is not None else Anchor(0, GENESIS)
    log.info("audit chain anchor: seq=%d hash=%s", point.seq, point.hash)
    record(dbsession, "audit.anchor", details={"seq": point.seq, "hash": point.hash})
    return point


def matches(dbsession: Session, point: Anchor) -> bool | None:
    """Whether the entry at ``point.seq`` still carries ``point.hash``; ``None`` when it has
    been pruned (or the anchor is of the empty chain)."""
    found = dbsession.scalar(select(AuditEntry.hash).where(AuditEntry.seq == point.seq))
    return None if found is None else found == point.hash


@periodic_task(crontab(minute="5", hour="0"))
def daily_anchor(registry) -> None:
    """Once a day, shortly after midnight UTC."""
    with task_dbsession(registry) as dbsession:
        anchor(dbsession)
