"""Walking the chain: every entry must follow the one before it, carry the hash of its own
content, and (while it still holds personal data) personal data matching its digest.

The walk starts at the pruning checkpoint (:class:`~portal.audit.models.AuditHead`): after
the oldest entries are pruned, the first remaining one must link to the last one pruned; an
entry missing from the middle, or from the end (checked against the head), is a break. The
checkpoint itself must be vouched for by the ``audit.pruned`` entry the pruning recorded
(:mod:`portal.audit.retention`), and that pruning must have taken only entries older than
:data:`~portal.audit.retention.MINIMUM_AGE`: otherwise moving the checkpoint to the head and
deleting every entry with SQL would leave a chain that verifies.

The chain walked is the one the head showed when the walk began: writers keep appending while
it runs, so only entries up to that head's seq are read, and on PostgreSQL the walk reads one
snapshot (REPEATABLE READ, when verify begins the transaction), so that neither an entry
committed nor a pruning done meanwhile looks like tampering.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from portal.audit.chain import hash_of_row, personal_digest
from portal.audit.models import GENESIS, AuditEntry, AuditHead
from portal.audit.retention import MINIMUM_AGE
from portal.db import registry_of

_BATCH = 1000


@dataclass(frozen=True)
class Break:
    """The first link found broken: at which ``seq``, and what is wrong there."""

    seq: int
    problem: str


@dataclass(frozen=True)
class Pruning:
    """The pruning that left the chain's checkpoint, as its ``audit.pruned`` entry (``seq``,
    ``at``) records it: the entries up to ``through_seq``, those that occurred before
    ``before``, were deleted."""

    seq: int
    at: dt.datetime
    before: dt.datetime
    through_seq: int


@dataclass(frozen=True)
class Verification:
    """What a walk of the chain found: ``count`` entries checked up to ``head_seq`` /
    ``head_hash``, the :class:`Pruning` behind the checkpoint (if any entry was pruned), and
    the first :class:`Break`, if any."""

    count: int
    head_seq: int
    head_hash: str
    broken: Break | None
    pruning: Pruning | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(dbsession: Session) -> Verification:
    """Walk the whole chain in seq order (in batches, so a long log is not held in memory)."""
    key = registry_of(dbsession).settings["portal.pii_hmac_key"]
    bind = dbsession.get_bind()
    # (a session bound to a connection, as in the tests, reads within its transaction)
    if (
        isinstance(bind, Engine)
        and bind.dialect.name == "postgresql"
        and not dbsession.in_transaction()
    ):
        dbsession.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    head = dbsession.get(AuditHead, 1, populate_existing=True)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, pruned_seq=0, pruned_hash=GENESIS)
    expected_seq, link, count = head.pruned_seq + 1, head.pruned_hash, 0
    pruning: Pruning | None = None

    def result(broken: Break | None) -> Verification:
        return Verification(count, head.seq, head.hash, broken, pruning)

    rows = dbsession.execute(
        select(AuditEntry.__table__)
        .where(AuditEntry.seq <= head.seq)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=_BATCH)
    )
    for row in rows:
        if row.seq != expected_seq:
            return result(Break(expected_seq, _missing(expected_seq, row.seq)))
        if row.prev_hash != link:
            return result(Break(row.seq, "does not link to the entry before it (prev_hash)"))
        if hash_of_row(row) != row.hash:
            return result(Break(row.seq, "content does not match its hash: altered"))
        if row.personal is not None and personal_digest(key, row.personal) != row.personal_digest:
            return result(Break(row.seq, "personal data does not match its digest: altered"))
        if row.action == "audit.pruned" and _vouches(row, head):
            pruning = _pruning(row)
        expected_seq, link, count = row.seq + 1, row.hash, count + 1
    if expected_seq - 1 != head.seq:
        return result(Break(expected_seq, _missing(expected_seq, head.seq + 1)))
    if link != head.hash:
        return result(Break(head.seq, "the last entry's hash is not the chain head's"))
    if head.pruned_seq and pruning is None:
        return result(
            Break(head.pruned_seq, "entries deleted: no audit.pruned entry names the checkpoint")
        )
    if pruning is not None and pruning.at - pruning.before < MINIMUM_AGE:
        return result(Break(pruning.seq, f"pruned entries younger than {MINIMUM_AGE.days} days"))
    return result(None)


def _vouches(row, head: AuditHead) -> bool:
    """Whether ``row`` (an ``audit.pruned`` entry) records the pruning that left ``head``'s
    checkpoint (entries of old recorded no ``through_hash``)."""
    details = row.details
    return (
        details.get("through_seq") == head.pruned_seq
        and details.get("through_hash", head.pruned_hash) == head.pruned_hash
    )


def _pruning(row) -> Pruning:
    return Pruning(
        seq=row.seq,
        at=_utc(row.occurred_at),
        before=_utc(dt.datetime.fromisoformat(row.details["before"])),
        through_seq=row.details["through_seq"],
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC (SQLite returns times without their zone: UTC)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _missing(first: int, after: int) -> str:
    """What is missing between the entry expected (``first``) and the one found (``after``)."""
    if after < first:
        return f"entry {after} found again or out of order"
    if after == first + 1:
        return f"entry {first} missing"
    return f"entries {first}-{after - 1} missing"
