"""What the retention job may do to the audit log without breaking its verification:
redact personal data (the hashes cover only its digest) and prune the oldest entries (the
chain's checkpoint moves onto the last one pruned, where verification then starts).

Each of these records what it did as an audit entry of its own. Pruning's entry
(``audit.pruned``) is what vouches for the checkpoint: verification refuses a checkpoint that
no such entry names, or one that pruned entries younger than :data:`MINIMUM_AGE` (someone
with SQL access moving the checkpoint to the head and deleting every entry).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry, AuditHead
from portal.audit.trail import record
from portal.clock import clock
from portal.db import registry_of, run_write

#: Pruning never takes an entry younger than this, whatever the cutoff it is given (the
#: retention policy keeps the audit trail ten years by default); verification refuses a
#: pruning that did.
MINIMUM_AGE = dt.timedelta(days=365)


def redact_personal(dbsession: Session, before: dt.datetime) -> int:
    """Remove the personal data of entries that occurred before ``before``; how many."""
    count = _redact(dbsession, AuditEntry.occurred_at < before)
    if count:
        record(dbsession, "audit.redacted", details={"before": before.isoformat(), "count": count})
    return count


def redact_person(dbsession: Session, person_id: int) -> int:
    """Remove the personal data of entries by or about ``person_id`` (an erasure request);
    how many. The entries themselves stay: they record what happened, not who it was."""
    count = _redact(
        dbsession, or_(AuditEntry.actor_id == person_id, AuditEntry.subject_id == person_id)
    )
    if count:
        record(dbsession, "audit.redacted", subject_id=person_id, details={"count": count})
    return count


def _redact(dbsession: Session, which) -> int:
    statement = (
        update(AuditEntry)
        .where(which, AuditEntry.personal.is_not(None))
        .values(personal=None)
        .execution_options(synchronize_session=False)
    )
    return run_write(dbsession, statement).rowcount


def prune_before(dbsession: Session, before: dt.datetime) -> int:
    """Delete the oldest entries, those that occurred before ``before``, as far as the chain
    allows: up to (not including) the first entry that did not, so what remains is an
    unbroken chain from the new checkpoint, and never entries younger than
    :data:`MINIMUM_AGE`. Returns how many were deleted."""
    before = min(before, clock(registry_of(dbsession)).now() - MINIMUM_AGE)
    keep_from = dbsession.scalar(
        select(func.min(AuditEntry.seq)).where(AuditEntry.occurred_at >= before)
    )
    last = select(func.max(AuditEntry.seq))
    if keep_from is not None:
        last = last.where(AuditEntry.seq < keep_from)
    through = dbsession.scalar(last)
    head = dbsession.get(AuditHead, 1, with_for_update=True)
    if through is None or head is None or through <= head.pruned_seq:
        return 0
    last_hash = dbsession.scalar(select(AuditEntry.hash).where(AuditEntry.seq == through))
    run_write(
        dbsession,
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(pruned_seq=through, pruned_hash=last_hash)
        .execution_options(synchronize_session=False),
    )
    count = run_write(
        dbsession,
        delete(AuditEntry)
        .where(AuditEntry.seq <= through)
        .execution_options(synchronize_session=False),
    ).rowcount
    dbsession.expire(head)
    record(
        dbsession,
        "audit.pruned",
        details={
            "before": before.isoformat(),
            "through_seq": through,
            "through_hash": last_hash,
            "count": count,
        },
    )
    return count
