"""Service API keys: making them, recognising them, and the contexts a key may act on.

A key is a high-entropy random token shown once when it is made; only its SHA-256 is stored.
A request carrying a valid, unrevoked key as ``Authorization: Bearer <key>`` holds the
principal of the key's service (see :class:`portal.security.SecurityPolicy`), and the route
factories below grant that principal its own service's bills and nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.api.models import ApiKey
from portal.billing.models import Bill
from portal.security import service_principal

log = logging.getLogger(__name__)

#: marks a string as a Portal API key (secret scanners can look for it)
KEY_MARK = "ptl_"
#: how much of the key is kept in clear, to tell keys apart
SHOWN_PREFIX_LENGTH = 12


def key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(dbsession, service, name: str) -> tuple[ApiKey, str]:
    """A new key for ``service``; returns the row and the token, which is never kept."""
    token = KEY_MARK + secrets.token_urlsafe(32)
    api_key = ApiKey(
        service=service,
        name=name,
        key_hash=key_hash(token),
        prefix=token[:SHOWN_PREFIX_LENGTH],
    )
    dbsession.add(api_key)
    dbsession.flush()
    return api_key, token


def bearer_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def request_api_key(request) -> ApiKey | None:
    """The valid key this request carries, if any; keys count only under ``/api/``."""
    if not request.path_info.startswith("/api/"):
        return None
    token = bearer_token(request)
    if token is None:
        return None
    api_key = request.dbsession.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash(token), ApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        log.warning("unknown or revoked API key refused")
    return api_key


class NoServiceKey:
    """The context of a service route called without a valid key: it grants nothing, so the
    request is answered 401 before anything about the URL's object is revealed."""

    __acl__: list = []


class ServiceContext:
    """A service's own collection of bills, as its key sees it."""

    def __init__(self, service_id: int):
        self.service_id = service_id
        self.__acl__ = [(Allow, service_principal(service_id), "issue_bill")]


class ServiceBillContext:
    """One bill of the calling service."""

    def __init__(self, bill: Bill):
        self.bill = bill
        principal = service_principal(bill.service_id)
        self.__acl__ = [(Allow, principal, "read_bill"), (Allow, principal, "cancel_bill")]


def service_factory(request):
    api_key = request.api_key
    return NoServiceKey() if api_key is None else ServiceContext(api_key.service_id)


def service_bill_factory(request):
    """The bill named in the URL, looked up among the calling service's bills only: another
    service's bill is as unknown as one that does not exist (404)."""
    api_key = request.api_key
    if api_key is None:
        return NoServiceKey()
    public_id = request.matchdict["public_id"]
    bill = None
    if len(public_id) == 32:
        bill = request.dbsession.scalar(
            select(Bill).where(Bill.public_id == public_id, Bill.service_id == api_key.service_id)
        )
    if bill is None:
        raise HTTPNotFound()
    return ServiceBillContext(bill)
