"""Recording audit entries: queued with the transaction that makes the change, written in
one go when it commits.

:func:`record` only queues the entry; just before the transaction commits, the entries it
queued are linked into the chain and written. The chain's head row is therefore locked only
for the transaction's last moment, not while a payment talks to its provider, and a
transaction that rolls back leaves no entry (its change did not happen either).

Each entry costs one statement: ``INSERT INTO audit_entry ... SELECT ... FROM audit_head
FOR UPDATE``, which locks the head, takes its seq + 1 and its hash as the entry's previous
hash, and computes the entry's hash in SQL (PostgreSQL's ``sha256``; on SQLite a function
the connection is given); a trigger on the insert moves the head onto the new entry. A
concurrent writer waits for the lock and then reads the head as the first one left it, so
two entries never follow the same one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, cast, event, func, insert, select
from sqlalchemy.orm import Session

from portal.audit.chain import entry_content, normalised, personal_digest
from portal.audit.models import GENESIS, AuditEntry, AuditHead
from portal.clock import clock
from portal.db import Prebuilt, insert_unless_present, registry_of, run_write, table_of

_ENTRIES = table_of(AuditEntry)
_HEAD = table_of(AuditHead)
#: where a session keeps the entries its current transaction has queued
_PENDING = "audit.pending"
#: the columns an entry's statement takes from its parameters, beside its seq and hashes
_GIVEN = (
    "occurred_at",
    "action",
    "actor_id",
    "subject_id",
    "object_type",
    "object_id",
    "details",
    "personal",
    "personal_digest",
)
#: SQLite's name of the SHA-256 function its connections are given
_SQLITE_SHA256 = "audit_sha256"


def _build_append(dialect: str):
    seq = _HEAD.c.seq + 1
    hashed = _HEAD.c.hash + ":" + cast(seq, String) + ":" + bindparam("content", type_=String)
    if dialect == "postgresql":
        digest = func.encode(func.sha256(func.convert_to(hashed, "UTF8")), "hex")
    else:
        digest = getattr(func, _SQLITE_SHA256)(hashed)
    given = [bindparam(name, type_=_ENTRIES.c[name].type) for name in _GIVEN]
    head = select(seq, *given, _HEAD.c.hash, digest).where(_HEAD.c.id == 1).with_for_update()
    columns = ["seq", *_GIVEN, "prev_hash", "hash"]
    return insert(_ENTRIES).from_select(columns, head).returning(_ENTRIES.c.seq)


#: one entry appended to the chain (see the module's note)
_APPEND = Prebuilt(_build_append)


class AuditError(RuntimeError):
    """The audit log used against its rules (an entry queued too late, history rewritten)."""


@dataclass(frozen=True)
class _Queued:
    """An entry waiting for its transaction's commit: the parameters of :data:`_APPEND`."""

    params: dict[str, Any]


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

    The entry belongs to the whole transaction: one recorded inside a SAVEPOINT that is
    rolled back is still written, so record after the savepoint, once the change stands.
    """
    pending = _pending(dbsession)
    if pending.written:
        raise AuditError(f"{action}: recorded after this transaction's audit entries were written")
    registry = registry_of(dbsession)
    key = registry.settings["portal.pii_hmac_key"]
    kept_personal = normalised(personal)
    object_type, object_id = (None, None) if object is None else (object[0], str(object[1]))
    columns = {
        "occurred_at": clock(registry).now(),
        "action": action,
        "actor_id": actor_id,
        "subject_id": subject_id,
        "object_type": object_type,
        "object_id": object_id,
        "details": normalised(details or {}),
        "personal_digest": personal_digest(key, kept_personal),
    }
    pending.entries.append(
        _Queued({**columns, "personal": kept_personal, "content": entry_content(**columns)})
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
    """Append the queued entries to the chain, one statement each (see the module's note)."""
    pending.written = True
    if not pending.entries:
        return
    if dbsession.get_bind().dialect.name == "sqlite":
        driver = dbsession.connection().connection.driver_connection
        assert driver is not None
        driver.create_function(_SQLITE_SHA256, 1, _sha256_hex, deterministic=True)
    statement = _APPEND(dbsession)
    for queued in pending.entries:
        if run_write(dbsession, statement, queued.params).first() is None:
            _start_chain(dbsession)
            run_write(dbsession, statement, queued.params).one()


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _start_chain(dbsession: Session) -> None:
    """The head row, for a database that has none (the migration makes it; a test emptying
    every table removes it)."""
    run_write(
        dbsession,
        insert_unless_present(dbsession, _HEAD, "id").values(
            id=1, seq=0, hash=GENESIS, pruned_seq=0, pruned_hash=GENESIS
        ),
    )
