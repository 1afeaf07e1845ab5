"""The audit log's tables: the entries of the hash chain and the one row that heads it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base

#: JSON as the database keeps it best: JSONB on PostgreSQL (comparable in the append-only
#: trigger), JSON text on SQLite. The chain hashes a canonical form, not what is stored.
#: Python's ``None`` is SQL NULL (not JSON ``null``): a redacted entry's ``personal`` IS NULL.
AuditJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

#: the hash the first entry of a chain follows
GENESIS = "0" * 64


class AuditEntry(Base):
    """One recorded event, linked to the one before it by ``prev_hash``.

    ``actor_id`` and ``subject_id`` are plain numbers, not foreign keys: erasing a person must
    not break (or be blocked by) the log. ``personal`` holds the entry's personal data, kept
    out of the hash (only its keyed ``personal_digest`` is hashed), so it can be redacted
    without breaking the chain. Never changed once written (see :mod:`portal.audit.guard`).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_occurred_at", "occurred_at"),
        Index("ix_audit_entry_action", "action", "seq"),
        Index("ix_audit_entry_actor_id", "actor_id", "seq"),
        Index("ix_audit_entry_subject_id", "subject_id", "seq"),
        Index("ix_audit_entry_object", "object_type", "object_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime]
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(AuditJSON)
    personal: Mapped[dict | None] = mapped_column(AuditJSON)
    personal_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's head: the last ``seq`` handed out and the hash of that entry, in one row
    that every writing transaction locks (so two writers never link to the same entry), and
    the checkpoint left by pruning: the seq and hash of the last entry deleted as past its
    retention, which the first remaining entry must follow."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    pruned_seq: Mapped[int] = mapped_column(BigInteger)
    pruned_hash: Mapped[str] = mapped_column(String(64))
