"""What webhooks keep: a service's endpoints, their signing secrets, and the outbox of
deliveries (one row per event and endpoint, written in the transaction that made the event)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalogue.models import Service
from portal.db import Base, utcnow


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


class WebhookEndpoint(Base):
    """A URL of a service's own system that hears some of billing's events about its bills.

    ``events`` holds the event types it hears, space-separated. A removed endpoint keeps its
    row (``removed_at``) so its delivery log stays readable.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: it hears events from then on (see :mod:`portal.services.webhooks.listening`)
    active_from: Mapped[dt.datetime]
    removed_at: Mapped[dt.datetime | None]

    service: Mapped[Service] = relationship()
    secrets: Mapped[list[WebhookSecret]] = relationship(
        back_populates="endpoint", order_by="WebhookSecret.id"
    )

    @property
    def event_types(self) -> list[str]:
        return self.events.split()

    @property
    def active_secrets(self) -> list[WebhookSecret]:
        return [secret for secret in self.secrets if secret.retired_at is None]


class WebhookSecret(Base):
    """A signing secret of an endpoint, kept encrypted (the portal's PII key) since the portal
    must sign with it. Two are active during a rotation; deliveries are signed with both."""

    __tablename__ = "webhook_secret"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    #: the first characters of the secret, to tell secrets apart on the page
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    retired_at: Mapped[dt.datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="secrets")


PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class WebhookDelivery(Base):
    """One event for one endpoint: the outbox row, and then its delivery log.

    ``payload`` is the exact JSON body sent on every attempt (so a retry is byte for byte the
    same event). Of the receiver's answers only the last status and a short excerpt are kept.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime]
    #: when the next attempt is due (while pending); also the lease of an attempt under way
    next_attempt_at: Mapped[dt.datetime]
    #: retries stop here: the delivery is then failed (a resend starts a new window)
    retry_until: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    response_excerpt: Mapped[str | None] = mapped_column(String(300))

    endpoint: Mapped[WebhookEndpoint] = relationship()
