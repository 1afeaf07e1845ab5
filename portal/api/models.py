"""API keys: how a service (a utility company, the tax office) authenticates to the API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalogue.models import Service
from portal.db import Base, utcnow


class ApiKey(Base):
    """A bearer key that acts for one service. Only the SHA-256 of the key is kept, so a copy
    of this table hands out no working keys; ``prefix`` tells keys apart in lists and logs."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    service: Mapped[Service] = relationship()
