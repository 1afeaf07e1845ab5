"""Documents the portal issues (receipts, credit notes, certificates, ...): one table, one
numbering, stored once as signed PDF/A bytes with their SHA-256, in the row or, named by
``storage_key``, in the configured store (:mod:`portal.documents.storage`).

Each kind is a subclass of :class:`Document` in its feature's models (single-table
inheritance on ``kind``); a kind's own columns link the document to what it documents and
are nullable, since the other kinds leave them empty.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base
from portal.identity.models import Organisation, User


class DocumentCounter(Base):
    """The last number used in a series and fiscal year. Taking a number updates this row
    inside the issuing transaction: a rolled-back transaction gives its number back, so
    there are no gaps."""

    __tablename__ = "document_counter"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Document(Base):
    """What every kind of document has: its number in a series and fiscal year, the code
    printed for ``/verify``, the person it was issued to (or the organisation, when no person
    acted: a receipt of an organisation's bank transfer), and the signed PDF once rendered."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("series", "fiscal_year", "sequence"),
        # a stored document's bytes are somewhere: in the row, or under a key
        CheckConstraint(
            "sha256 IS NULL OR pdf IS NOT NULL OR storage_key IS NOT NULL", name="bytes_kept"
        ),
        CheckConstraint(
            "owner_user_id IS NOT NULL OR owner_organisation_id IS NOT NULL", name="has_owner"
        ),
    )
    __mapper_args__ = {"polymorphic_on": "kind"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    series: Mapped[str] = mapped_column(String(16))
    fiscal_year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(32), unique=True)
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    locale: Mapped[str] = mapped_column(String(16), default="en")
    issued_at: Mapped[dt.datetime]
    #: the signed PDF when the database keeps it (``storage_key`` NULL)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: where the configured store keeps the signed PDF, when it is not in ``pdf``
    storage_key: Mapped[str | None] = mapped_column(String(200))
    #: set with the bytes: a document is stored once this is
    sha256: Mapped[str | None] = mapped_column(String(64))
    emailed_at: Mapped[dt.datetime | None]

    owner: Mapped[User | None] = relationship()
    owner_organisation: Mapped[Organisation | None] = relationship()
