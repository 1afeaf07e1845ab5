"""The request as the identity layer and those above it see it, for the type checker: the
signed-in ``User``, the server-side session and the personal data vault."""

from __future__ import annotations

from portal.identity.models import User
from portal.identity.pii import PersonalDataVault
from portal.identity.sessions import DatabaseSession, SignedIn
from portal.requests import PortalRequest


class IdentifiedRequest(PortalRequest):
    #: the signed-in person, if any (:func:`portal.identity.current_user`)
    user: User | None
    #: who is signed in, without the ORM's work (:func:`portal.identity.current_person`)
    person: User | SignedIn | None
    #: the server-side session (:mod:`portal.identity.sessions`)
    session: DatabaseSession
    #: hashing and encryption of personal identifiers (:mod:`portal.identity.pii`)
    pii: PersonalDataVault
