"""The request as the portal's code sees it, for the type checker.

Pyramid's ``Request`` knows nothing of the attributes the portal adds to it with
``config.add_request_method`` (and pyramid_tm adds ``tm``); these classes name them and their
types, so a function that takes ``request: PortalRequest`` is checked when it reads
``request.dbsession``. Requests are still made by Pyramid: the classes are never
instantiated. Each layer declares what it adds: this bottom layer the database, the
transaction and who is signed in as the security policy sees them;
:class:`portal.identity.requests.IdentifiedRequest` the identity layer's attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import transaction
from pyramid.request import Request
from sqlalchemy.orm import Session


class HasId(Protocol):
    @property
    def id(self) -> int: ...


class SignedInPerson(Protocol):
    """What the security policy reads of a signed-in person: identity's ``User``, or what its
    identity query read (``SignedIn``)."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...

    @property
    def is_reviewer(self) -> bool: ...

    @property
    def is_auditor(self) -> bool: ...

    @property
    def organisation_ids(self) -> Sequence[int]: ...

    @property
    def department_ids(self) -> Sequence[int]: ...

    @property
    def buying_department_ids(self) -> Sequence[int]: ...


class Person(SignedInPerson, Protocol):
    """What the bottom layers know of a signed-in person (identity's ``User`` is one)."""

    @property
    def organisations(self) -> Sequence[HasId]: ...

    @property
    def departments(self) -> Sequence[HasId]: ...

    @property
    def buying_departments(self) -> Sequence[HasId]: ...


class PortalRequest(Request):
    #: the request's database session, joined to ``tm`` (:mod:`portal.db`)
    dbsession: Session
    #: the request's transaction manager (pyramid_tm, explicit mode)
    tm: transaction.TransactionManager
    #: the signed-in person, if any (:func:`portal.identity.current_user`)
    user: Person | None
    #: who is signed in, as permission checks need it (:func:`portal.identity.current_person`)
    person: SignedInPerson | None
