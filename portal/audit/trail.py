"""Recording audit entries: queued with the transaction that makes the change, written in
one go when it commits.

:func:`record` only queues the entry; just before the transaction commits, all the entries it
queued are linked into the chain and written. The chain's head row is therefore locked only
for the transaction's last moment, not while a payment talks to its provider, and a
transaction that rolls back leaves no entry (its change did not happen either).

On PostgreSQL a transaction's entries cost two statements: ``UPDATE audit_head ... RETURNING``
(locks the head, hands out the seqs, reads the hash to link to) and one ``INSERT`` of the
entries inside a ``WITH`` whose ``UPDATE`` moves the head's hash. SQLite, without
data-modifying CTEs, takes a third.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, insert, update
from sqlalchemy.orm import Session

from portal.audit.chain import entry_hash, normalised, personal_digest
from portal.audit.models import GENESIS, AuditEntry, AuditHead
from portal.clock import clock
from portal.db import insert_unless_present, registry_of, run_write, table_of

_ENTRIES = table_of(AuditEntry)
_HEAD = table_of(AuditHead)
#: where a session keeps the entries its current transaction has queued
_PENDING = "audit.pending"

_CLAIM = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("count"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("head_hash"))
_COLUMNS = (
    "seq",
    "occurred_at",
    "action",
    "actor_id",
    "subject_id",
    "object_type",
    "object_id",
    "details",
    "personal",
    "personal_digest",
    "prev_hash",
    "hash",
)


class AuditError(RuntimeError):
    """The audit log used against its rules (an entry queued too late, history rewritten)."""


@dataclass(frozen=True)
class _Queued:
    occurred_at: Any
    action: str
    actor_id: int | None
    subject_id: int | None
    object_type: str | None
    object_id: str | None
    details: Any
    personal: Any
    personal_digest: str | None


class _Pending:
    """The entries one transaction has queued, and whether they were written already."""

    def __init__(self, owner: object):
        self.owner = owner
        self.entries: list[_Queued] = []
        self.written = False


def record(
    dbsession: Session,
    action: str,
    *,
    actor_id: int | None = None,
    subject_id: int | None = None,
    object: tuple[str, object] | None = None,
    details: dict | None = None,
    personal: dict | None = None,
) -> None:
    """Queue an audit entry on ``dbsession``'s transaction; it is written when (and only if)
    that transaction commits.

    ``action`` is a dotted name (``payment.succeeded``); ``actor_id`` the person who did it,
    ``subject_id`` the person the data is about; ``object`` the ``(type, id)`` of what it is
    about (``("payment", 42)``). ``details`` must hold no personal data: it is kept as long as
    the log. ``personal`` (a name, an identifier shown) can be redacted later without
    breaking the chain. Both must be JSON (strings, integers, booleans, lists, objects).
    """
    pending = _pending(dbsession)
    if pending.written:
        raise AuditError(f"{action}: recorded after this transaction's audit entries were written")
    settings = registry_of(dbsession).settings
    kept_personal = normalised(personal)
    object_type, object_id = (None, None) if object is None else (object[0], str(object[1]))
    pending.entries.append(
        _Queued(
            occurred_at=clock(registry_of(dbsession)).now(),
            action=action,
            actor_id=actor_id,
            subject_id=subject_id,
            object_type=object_type,
            object_id=object_id,
            details=normalised(details or {}),
            personal=kept_personal,
            personal_digest=personal_digest(settings["portal.pii_hmac_key"], kept_personal),
        )
    )


def record_request(request, action: str, **entry) -> None:
    """:func:`record` in the request's transaction, by the person signed in (if anyone)."""
    user = request.user
    entry.setdefault("actor_id", None if user is None else user.id)
    record(request.dbsession, action, **entry)


def _pending(dbsession: Session) -> _Pending:
    """The current transaction's queue, made (and its writing arranged) on first use.

    A session joined to a transaction manager (requests, ``with request.tm:`` in scripts,
    tasks' :func:`~portal.tasks.task_dbsession`) writes in a before-commit hook of that
    transaction; any other session (tests, tools) just before its own commit.
    """
    manager = dbsession.info.get("tm")
    owner: object = manager.get() if manager is not None else dbsession.get_transaction()
    pending = dbsession.info.get(_PENDING)
    if pending is not None and pending.owner is owner and owner is not None:
        return pending
    if owner is None:
        owner = dbsession.begin()
    pending = dbsession.info[_PENDING] = _Pending(owner)
    if manager is not None:
        manager.get().addBeforeCommitHook(_write, (dbsession, pending))
    else:
        _listen_before_commit(dbsession)
    return pending


def _listen_before_commit(dbsession: Session) -> None:
    if dbsession.info.get("audit.listening"):
        return
    dbsession.info["audit.listening"] = True

    def before_commit(session: Session) -> None:
        pending = session.info.get(_PENDING)
        if pending is not None and pending.owner is session.get_transaction():
            _write(session, pending)

    event.listen(dbsession, "before_commit", before_commit)


def _write(dbsession: Session, pending: _Pending) -> None:
    """Link the queued entries to the chain's head and write them (see the module's note)."""
    pending.written = True
    entries = pending.entries
    if not entries:
        return
    claimed = run_write(dbsession, _CLAIM, {"count": len(entries)}).first()
    if claimed is None:
        _start_chain(dbsession)
        claimed = run_write(dbsession, _CLAIM, {"count": len(entries)}).one()
    last_seq, link = claimed
    params: dict[str, Any] = {}
    for i, queued in enumerate(entries):
        seq = last_seq - len(entries) + 1 + i
        content = {
            "seq": seq,
            "occurred_at": queued.occurred_at,
            "action": queued.action,
            "actor_id": queued.actor_id,
            "subject_id": queued.subject_id,
            "object_type": queued.object_type,
            "object_id": queued.object_id,
            "details": queued.details,
            "personal_digest": queued.personal_digest,
        }
        digest = entry_hash(link, **content)
        params.update({f"{name}_{i}": value for name, value in content.items()})
        params.update(
            {f"personal_{i}": queued.personal, f"prev_hash_{i}": link, f"hash_{i}": digest}
        )
        link = digest
    params["head_hash"] = link
    dialect = dbsession.get_bind().dialect.name
    if dialect == "postgresql":
        run_write(dbsession, _insert_and_move_head(len(entries)), params)
    else:
        run_write(dbsession, _insert(len(entries)), params)
        run_write(dbsession, _MOVE_HEAD, params)


def _start_chain(dbsession: Session) -> None:
    """The head row, for a database that has none (the migration makes it; a test emptying
    every table removes it)."""
    run_write(
        dbsession,
        insert_unless_present(dbsession, _HEAD, "id").values(
            id=1, seq=0, hash=GENESIS, pruned_seq=0, pruned_hash=GENESIS
        ),
    )


@functools.cache
def _insert(count: int):
    """``INSERT INTO audit_entry VALUES`` of ``count`` entries, given as parameters
    ``<column>_<i>``: built once per number of entries a transaction writes."""
    rows = [
        {name: bindparam(f"{name}_{i}", type_=_ENTRIES.c[name].type) for name in _COLUMNS}
        for i in range(count)
    ]
    return insert(_ENTRIES).values(rows)


@functools.cache
def _insert_and_move_head(count: int):
    """PostgreSQL: the entries inserted in a ``WITH`` of the ``UPDATE`` moving the head."""
    inserted = _insert(count).returning(_ENTRIES.c.seq).cte("inserted")
    return _MOVE_HEAD.add_cte(inserted)
