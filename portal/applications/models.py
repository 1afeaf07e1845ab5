"""Applications for registrations, licences and certified copies: the citizen's request, what
happened to it, and the certificate issued when a clerk approves it."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import Bill, Refund, new_public_id
from portal.catalogue.models import Service
from portal.db import Base
from portal.documents.models import Document
from portal.identity.models import User


class Application(Base):
    """A citizen's request for a service that a clerk must approve.

    ``form`` holds what the citizen typed (a draft may be incomplete); once submitted it holds
    the cleaned values the fee and the certificate were made from. Its status changes only
    through :mod:`portal.applications.state`.
    """

    __tablename__ = "application"
    __table_args__ = (
        Index("ix_application_applicant_listing", "applicant_id", "updated_at"),
        Index("ix_application_queue", "service_id", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    form_json: Mapped[str] = mapped_column(Text, default="{}")
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), unique=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]

    service: Mapped[Service] = relationship()
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    bill: Mapped[Bill | None] = relationship()
    refund: Mapped[Refund | None] = relationship()
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id", cascade="all, delete-orphan"
    )
    certificate: Mapped[Certificate | None] = relationship(back_populates="application")

    @property
    def form(self) -> dict[str, str]:
        return json.loads(self.form_json)

    @form.setter
    def form(self, values: dict[str, str]) -> None:
        self.form_json = json.dumps(values, ensure_ascii=False, sort_keys=True)


class ApplicationEvent(Base):
    """One step of an application's history: a change of state, when, why and by whom."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    application: Mapped[Application] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Certificate(Document):
    """The document an approval issues: numbered in the clerk's decision, rendered, signed and
    stored once after it commits (see :mod:`portal.applications.certificates`)."""

    __mapper_args__ = {"polymorphic_identity": "certificate"}

    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), unique=True)

    application: Mapped[Application] = relationship(back_populates="certificate")
