"""A service's endpoints: registering one, rotating and retiring its secrets, removing it.

A secret is shown once, when it is made; the portal keeps it encrypted, since it signs with
it. Rotating adds a second active secret (deliveries are then signed with both, so the
service can switch its receiver over at its own pace); retiring drops the older one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.catalogue.models import Service
from portal.db import registry_of
from portal.i18n import _
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal
from portal.services.webhooks.addresses import AddressPolicy
from portal.services.webhooks.listening import ACTIVATION, listening_services
from portal.services.webhooks.models import WebhookEndpoint, WebhookSecret
from portal.services.webhooks.outbox import EVENT_TYPES
from portal.services.webhooks.signing import SHOWN_PREFIX_LENGTH, new_secret

#: endpoints a service may have at once
MAX_ENDPOINTS = 10


def _add_secret(vault, endpoint: WebhookEndpoint, now: dt.datetime) -> str:
    secret = new_secret()
    endpoint.secrets.append(
        WebhookSecret(
            secret_encrypted=vault.encrypt(secret),
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            created_at=now,
        )
    )
    return secret


def live_endpoints(service: Service, dbsession: Session) -> list[WebhookEndpoint]:
    return list(
        dbsession.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.service_id == service.id, WebhookEndpoint.removed_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def register_endpoint(
    dbsession: Session,
    policy: AddressPolicy,
    vault,
    service: Service,
    url: str,
    events: list[str],
    user_id: int | None,
    now: dt.datetime,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of ``service`` and its first secret (returned in clear, once)."""
    url = url.strip()
    errors: list[FieldError] = []
    try:
        policy.check(url)
    except Refusal as refused:
        errors += refused.errors
    chosen = [event for event in EVENT_TYPES if event in events]
    if not chosen or len(chosen) != len(set(events)):
        errors.append(FieldError("events", _("Choose at least one event.")))
    if errors:
        raise Refusal(INVALID, _("The endpoint was not added."), errors=errors)
    if len(live_endpoints(service, dbsession)) >= MAX_ENDPOINTS:
        raise Refusal(CONFLICT, _("A service has at most 10 endpoints: remove one first."))
    endpoint = WebhookEndpoint(
        service=service,
        url=url,
        events=" ".join(chosen),
        created_by_id=user_id,
        created_at=now,
        active_from=now + ACTIVATION,
    )
    dbsession.add(endpoint)
    secret = _add_secret(vault, endpoint, now)
    dbsession.flush()
    listening_services(registry_of(dbsession)).add(service.id)
    return endpoint, secret


def rotate_secret(vault, endpoint: WebhookEndpoint, now: dt.datetime) -> str:
    """A second active secret; refused while a rotation is under way (two already active)."""
    if len(endpoint.active_secrets) >= 2:
        raise Refusal(
            CONFLICT,
            _("A rotation is already under way: retire the old secret before rotating again."),
        )
    return _add_secret(vault, endpoint, now)


def retire_old_secret(endpoint: WebhookEndpoint, now: dt.datetime) -> WebhookSecret:
    """End a rotation: the older of the two active secrets signs no more."""
    active = endpoint.active_secrets
    if len(active) < 2:
        raise Refusal(
            CONFLICT, _("There is no rotation under way: the endpoint's only secret stays.")
        )
    active[0].retired_at = now
    return active[0]


def remove_endpoint(endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """The endpoint hears nothing more; deliveries still pending for it fail on their next
    attempt, and its log stays."""
    endpoint.removed_at = now
