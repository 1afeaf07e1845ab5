"""A case: one item of work that needs a person, in the one queue of the back office.

Every feature that needs a clerk (an application to decide, a payment the provider reported
oddly, a reconciliation mismatch, a tender question or complaint) opens a case about its own
object (``subject_type`` and ``subject_id``, with a title to show); the case carries the
department whose clerks work it, when it is due, who has it, and its notes, attachments and
history. The feature's object stays the truth about the matter: the case is the work.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import new_public_id
from portal.db import Base
from portal.identity.models import Department, Organisation, User
from portal.localized import translations_column
from portal.procurement.models import StoredFile


class Case(Base):
    """One item of work. Its ``state`` changes only through :mod:`portal.cases.state`, its
    assignee only through :mod:`portal.cases.work`, both guarded by ``version``: a change
    made on a page that showed an older version is refused, so two clerks claiming at once
    cannot both win.

    ``open_key`` names what the case is about while it is open (``application:<id>``): a
    feature announcing the same matter twice finds the open case instead of opening a second.
    It is cleared when the case ends, so the same matter may need a new case later.
    ``department_id`` is None for work no department owns (a provider's line that names no
    payment): administrators see those.
    """

    __tablename__ = "work_case"
    __table_args__ = (
        Index("ix_work_case_queue", "department_id", "state", "due_at"),
        Index("ix_work_case_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    title_translations: Mapped[dict[str, str]] = translations_column()
    person_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="received")
    opened_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(300))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    version: Mapped[int] = mapped_column(default=0)

    department: Mapped[Department | None] = relationship()
    person: Mapped[User | None] = relationship(foreign_keys=[person_id])
    organisation: Mapped[Organisation | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    transitions: Mapped[list[CaseTransition]] = relationship(
        back_populates="case", order_by="CaseTransition.id", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[CaseAssignment]] = relationship(
        back_populates="case", order_by="CaseAssignment.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[CaseNote]] = relationship(
        back_populates="case", order_by="CaseNote.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[CaseAttachment]] = relationship(
        back_populates="case", order_by="CaseAttachment.id", cascade="all, delete-orphan"
    )


class CaseTransition(Base):
    """One change of a case's state: when, by whom (None for the feature's own decision or
    the portal), and why."""

    __tablename__ = "work_case_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("work_case.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    case: Mapped[Case] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()


class CaseAssignment(Base):
    """A claim (``by`` took it) or a hand-over (``by`` gave it to ``to``)."""

    __tablename__ = "work_case_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("work_case.id", ondelete="CASCADE"), index=True)
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    case: Mapped[Case] = relationship(back_populates="assignments")
    from_user: Mapped[User | None] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id])
    by: Mapped[User] = relationship(foreign_keys=[by_id])


class CaseNote(Base):
    """A note on a case: internal (the clerks') or public (the person concerned reads it too).
    ``author_id`` is None for a note the portal wrote (what a feature reported)."""

    __tablename__ = "work_case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("work_case.id", ondelete="CASCADE"), index=True)
    public: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    case: Mapped[Case] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


class CaseAttachment(Base):
    """A file a clerk attached to a case; the bytes are a stored file (kept once, checked by
    content), downloaded only by those who may work the case."""

    __tablename__ = "work_case_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    case_id: Mapped[int] = mapped_column(ForeignKey("work_case.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    case: Mapped[Case] = relationship(back_populates="attachments")
    file: Mapped[StoredFile] = relationship()
    uploaded_by: Mapped[User] = relationship()
