"""People and the bodies they act for: users, organisations, departments, sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from portal.db import Base, utcnow
from portal.localized import translations_column

organisation_membership = Table(
    "organisation_membership",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True),
)

department_membership = Table(
    "department_membership",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)

#: the procurement clerks of a department: they prepare, publish and amend its tenders
buyer_membership = Table(
    "buyer_membership",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class Organisation(Base):
    """A registered business; its representatives act for it (bids, bills)."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    representatives: Mapped[list[User]] = relationship(
        secondary=organisation_membership, back_populates="organisations"
    )


class Department(Base):
    """A part of the administration that owns services and whose clerks work their queues."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the name in other languages (:mod:`portal.localized`)
    name_translations: Mapped[dict[str, str]] = translations_column()

    clerks: Mapped[list[User]] = relationship(
        secondary=department_membership, back_populates="departments"
    )


def shown_name(given_name: str, family_name: str, name_id: str) -> str:
    """How a person is named on pages: their names, or their identifier when the IdP sent none."""
    return f"{given_name} {family_name}".strip() or name_id


#: where a :class:`User` keeps the membership ids read with it (not a mapped attribute)
_MEMBER_IDS = "_portal_member_ids"


class User(Base):
    """A person, as known to one identity provider.

    Keyed on (IdP entity id, persistent NameID). The national identifier is personal data:
    only a keyed hash (for look-up) and an encrypted copy (for display) are stored.
    """

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("idp_entity_id", "name_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idp_entity_id: Mapped[str] = mapped_column(String(512))
    name_id: Mapped[str] = mapped_column(String(512))
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    national_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    national_id_encrypted: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    is_admin: Mapped[bool] = mapped_column(default=False)
    #: decides complaints against tender awards (the IdP's ``reviewer`` group); a review body
    #: independent of every department, so not tied to one
    is_reviewer: Mapped[bool] = mapped_column(default=False)
    #: reads the audit log and nothing else (the IdP's ``auditor`` group): no clerk work
    is_auditor: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    organisations: Mapped[list[Organisation]] = relationship(
        secondary=organisation_membership, back_populates="representatives"
    )
    departments: Mapped[list[Department]] = relationship(
        secondary=department_membership, back_populates="clerks"
    )
    #: the departments whose tenders this person buys for (the IdP's ``buyer`` groups)
    buying_departments: Mapped[list[Department]] = relationship(secondary=buyer_membership)

    @property
    def display_name(self) -> str:
        return shown_name(self.given_name, self.family_name, self.name_id)

    @property
    def organisation_ids(self) -> tuple[int, ...]:
        """The ids of the organisations this person represents, without loading them."""
        return self._member_ids("organisations")

    @property
    def department_ids(self) -> tuple[int, ...]:
        """The ids of the departments this person is a clerk of, without loading them."""
        return self._member_ids("departments")

    @property
    def buying_department_ids(self) -> tuple[int, ...]:
        """The ids of the departments this person buys for, without loading them."""
        return self._member_ids("buying_departments")

    def know_member_ids(
        self,
        organisations: tuple[int, ...],
        departments: tuple[int, ...],
        buying_departments: tuple[int, ...],
    ) -> None:
        """Remember membership ids read along with this user (the request's one identity query,
        see :mod:`portal.identity.sessions`), so that principals need no query of their own.
        A membership known to be empty is loaded as the empty list, so reading it costs no
        query either (most people represent no organisation and work in no department)."""
        known = {
            "organisations": organisations,
            "departments": departments,
            "buying_departments": buying_departments,
        }
        self.__dict__[_MEMBER_IDS] = known
        for name, ids in known.items():
            if not ids and name not in self.__dict__:
                set_committed_value(self, name, [])

    def _member_ids(self, relationship_name: str) -> tuple[int, ...]:
        # A loaded collection is the truth (sign-in may have just changed it); otherwise the
        # ids read with the user; otherwise the collection is loaded.
        known = self.__dict__.get(_MEMBER_IDS)
        if known is not None and relationship_name not in self.__dict__:
            return known[relationship_name]
        return tuple(sorted(member.id for member in getattr(self, relationship_name)))


class WebSession(Base):
    """A server-side browser session; the cookie carries a random token whose hash is the key,
    so a copy of this table does not hand out live sessions."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime] = mapped_column(index=True)


class SamlPendingRequest(Base):
    """An AuthnRequest this browser sent, waiting for the IdP's answer.

    The answer arrives as a cross-site POST, which does not carry the Lax session cookie, so
    the request is found through a short-lived cookie of its own whose hash is the key.
    """

    __tablename__ = "saml_pending_request"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    idp_entity_id: Mapped[str] = mapped_column(String(512))
    relay_state: Mapped[str] = mapped_column(String(2048), default="/")
    created_at: Mapped[dt.datetime] = mapped_column(index=True)


class SamlAssertionUse(Base):
    """An assertion already consumed; kept until it expires so a replay is refused,
    whichever process receives it."""

    __tablename__ = "saml_assertion_use"

    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    idp_entity_id: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
