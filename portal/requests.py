"""The request as the portal's code sees it, for the type checker.

Pyramid's ``Request`` knows nothing of the attributes the portal adds to it with
``config.add_request_method`` (and pyramid_tm adds ``tm``); this class names them and their
types, so a function that takes ``request: PortalRequest`` is checked when it reads
``request.dbsession`` or ``request.user``. Requests are still made by Pyramid: the class is
never instantiated, and upper layers' types are imported for the checker only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import transaction
from pyramid.request import Request
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from portal.identity.models import User
    from portal.identity.pii import PersonalDataVault
    from portal.identity.sessions import DatabaseSession


class PortalRequest(Request):
    #: the request's database session, joined to ``tm`` (:mod:`portal.db`)
    dbsession: Session
    #: the request's transaction manager (pyramid_tm, explicit mode)
    tm: transaction.TransactionManager
    #: the signed-in person, if any (:func:`portal.identity.current_user`)
    user: User | None
    #: the server-side session (:mod:`portal.identity.sessions`)
    session: DatabaseSession
    #: hashing and encryption of personal identifiers (:mod:`portal.identity.pii`)
    pii: PersonalDataVault
