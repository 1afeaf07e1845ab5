"""The audit log is append-only: written entries are never changed, except that their
personal data may be redacted, and never deleted, except the oldest ones once pruning has
moved the chain's checkpoint past them.

PostgreSQL enforces this with triggers (migrations ``a0d17c4e2b95`` and ``bb9e54ec1a50``: an
entry's UPDATE may only set ``personal`` to NULL, a DELETE only take an entry at or below the
pruning checkpoint, the head only move forward, neither table be truncated), so that no code
of the application, however wrong, can rewrite history; the ORM guard below says so before a
statement is sent, and is SQLite's only guard.
"""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from portal.audit.models import AuditEntry, AuditHead
from portal.audit.trail import AuditError


def guard_append_only(session_factory: sessionmaker[Session]) -> None:
    """Refuse, in the sessions ``session_factory`` makes, to change or delete audit entries
    through the ORM (other than redacting ``personal``); redaction and pruning go through
    :mod:`portal.audit.retention`."""
    event.listen(session_factory, "before_flush", _append_only)


def _append_only(session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEntry | AuditHead):
            raise AuditError("the audit log is append-only: entries are never deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditHead) and session.is_modified(obj):
            raise AuditError("the audit chain's head moves only as entries are written")
        if isinstance(obj, AuditEntry) and _changed(obj) - _REDACTION:
            raise AuditError("the audit log is append-only: only personal data may be redacted")


#: the one change an entry may undergo
_REDACTION = {("personal", None)}


def _changed(entry: AuditEntry) -> set[tuple[str, object]]:
    """``(attribute, new value)`` of each attribute of ``entry`` changed in this flush."""
    changed: set[tuple[str, object]] = set()
    for attribute in inspect(entry).attrs:
        history = attribute.history
        if history.has_changes():
            value = history.added[0] if history.added else None
            changed.add((attribute.key, value if value is None else repr(value)))
    return changed
