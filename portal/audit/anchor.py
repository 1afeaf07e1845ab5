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
    """Whether the chain still contains ``point``: the entry at ``point.seq``, or the pruning
    checkpoint if it is there, carries ``point.hash``. ``False`` too when the chain does not
    reach ``point.seq`` (it was rebuilt shorter); ``None`` when the entry has been pruned, so
    that the anchor can no longer be checked (a later one can)."""
    if point == Anchor(0, GENESIS):
        return True
    found = dbsession.scalar(select(AuditEntry.hash).where(AuditEntry.seq == point.seq))
    if found is not None:
        return found == point.hash
    head = dbsession.get(AuditHead, 1)
    if head is None or point.seq > head.seq:
        return False
    if point.seq == head.pruned_seq:
        return head.pruned_hash == point.hash
    return None if point.seq < head.pruned_seq else False


@periodic_task(crontab(minute="5", hour="0"))
def daily_anchor(registry) -> None:
    """Once a day, shortly after midnight UTC."""
    with task_dbsession(registry) as dbsession:
        anchor(dbsession)
