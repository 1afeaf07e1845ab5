"""Sending the outbox: one attempt per task, retried with exponential backoff for a day.

An attempt first claims its delivery with one conditional UPDATE (pending and due), which
also pushes ``next_attempt_at`` a lease ahead: the job enqueued after commit and the
every-minute sweep may both pick a delivery up, and only one of them sends it. The HTTP call
happens outside any transaction; its outcome is recorded in a transaction of its own. A
worker that dies mid-attempt leaves the delivery pending, due again when the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import cast

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import CursorResult, select, update

from portal.clock import clock
from portal.refusals import Refusal
from portal.services.webhooks.addresses import AddressPolicy
from portal.services.webhooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookDelivery,
)
from portal.services.webhooks.sending import Answer, post
from portal.services.webhooks.signing import HEADER, signature_header
from portal.tasks import enqueue, enqueue_after_commit, periodic_task, task, task_dbsession

log = logging.getLogger(__name__)

#: how long a delivery is retried before it is marked failed
RETRY_WINDOW = dt.timedelta(hours=24)
#: the wait after the first failed attempt; it doubles after each further one
FIRST_BACKOFF = dt.timedelta(minutes=1)
LONGEST_BACKOFF = dt.timedelta(hours=6)
#: longer than an attempt can take (connect and read timeouts): an attempt's claim
LEASE = dt.timedelta(minutes=2)
#: deliveries the sweep hands to the queue at a time
SWEEP_BATCH = 200

_POLICY = "webhooks.address_policy"


def address_policy(registry: Registry) -> AddressPolicy:
    return registry[_POLICY]


def backoff(attempts: int) -> dt.timedelta:
    """The wait after ``attempts`` failed attempts: 1, 2, 4, 8... minutes, at most 6 hours."""
    return min(FIRST_BACKOFF * 2 ** (attempts - 1), LONGEST_BACKOFF)


def send_after_commit(dbsession, delivery_id: int) -> None:
    enqueue_after_commit(dbsession, deliver_webhook, delivery_id)


@task()
def deliver_webhook(registry: Registry, delivery_id: int) -> None:
    attempt(registry, delivery_id)


@periodic_task(crontab(minute="*"))
def deliver_due_webhooks(registry: Registry) -> None:
    """Hand every delivery that is due to the queue: retries whose wait is over, and any
    whose job after commit never ran (a broker outage, a worker that died)."""
    now = clock(registry).now()
    with task_dbsession(registry) as dbsession:
        due = list(
            dbsession.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        )
    for delivery_id in due:
        enqueue(registry, deliver_webhook, delivery_id)


def _claim(registry: Registry, delivery_id: int, now: dt.datetime):
    """The delivery's endpoint, body and secrets if this attempt won the claim, else None."""
    vault = registry["pii_vault"]
    with task_dbsession(registry) as dbsession:
        claim = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + LEASE, attempts=WebhookDelivery.attempts + 1)
        )
        claimed = cast(CursorResult, dbsession.execute(claim)).rowcount
        if not claimed:
            return None
        delivery = dbsession.get_one(WebhookDelivery, delivery_id)
        endpoint = delivery.endpoint
        secrets = [vault.decrypt(secret.secret_encrypted) for secret in endpoint.active_secrets]
        return (
            endpoint.url,
            endpoint.removed_at is not None,
            delivery.event_id,
            delivery.event_type,
            delivery.payload.encode(),
            [secret for secret in secrets if secret],
        )


def _send(registry: Registry, url: str, event_id: str, event_type: str, body: bytes, secrets):
    settings = registry.settings
    try:
        target = address_policy(registry).check(url)
    except Refusal:
        return Answer(None, error="address refused")
    timestamp = int(clock(registry).now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Portal-Webhooks/1",
        "Portal-Event-Id": event_id,
        "Portal-Event-Type": event_type,
        HEADER: signature_header(secrets, timestamp, body),
    }
    return post(
        target,
        body,
        headers,
        connect_timeout=float(settings.get("webhooks.connect_timeout_seconds", 5)),
        read_timeout=float(settings.get("webhooks.read_timeout_seconds", 10)),
        ca_certs=settings.get("webhooks.ca_bundle") or None,
    )


def attempt(registry: Registry, delivery_id: int) -> None:
    """Try to deliver once, if the delivery is due and no other attempt holds it."""
    now = clock(registry).now()
    claim = _claim(registry, delivery_id, now)
    if claim is None:
        return
    url, removed, event_id, event_type, body, secrets = claim
    if removed or not secrets:
        answer = Answer(None, error="endpoint removed" if removed else "no active secret")
    else:
        answer = _send(registry, url, event_id, event_type, body, secrets)
    _record(registry, delivery_id, answer, now, final=removed)


def _record(
    registry: Registry, delivery_id: int, answer: Answer, started: dt.datetime, final: bool
) -> None:
    now = clock(registry).now()
    with task_dbsession(registry) as dbsession:
        delivery = dbsession.get_one(WebhookDelivery, delivery_id)
        delivery.last_attempt_at = started
        delivery.last_status_code = answer.status
        delivery.last_error = answer.error
        delivery.response_excerpt = answer.excerpt[:300] or None
        if answer.delivered:
            delivery.status = DELIVERED
            delivery.delivered_at = now
        else:
            retry_at = now + backoff(delivery.attempts)
            if final or retry_at > delivery.retry_until:
                delivery.status = FAILED
            else:
                delivery.next_attempt_at = retry_at
        endpoint_id, attempts, status = delivery.endpoint_id, delivery.attempts, delivery.status
    log.info(
        "webhook delivery %s (endpoint %s) attempt %d: %s -> %s",
        delivery_id,
        endpoint_id,
        attempts,
        answer.status if answer.status is not None else answer.error,
        status,
    )


def resend(dbsession, delivery: WebhookDelivery, now: dt.datetime) -> None:
    """Send ``delivery`` again, as it was (same event id, same body), with a fresh day of
    retries: for a receiver that failed it or lost it."""
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.retry_until = now + RETRY_WINDOW
    delivery.delivered_at = None
    dbsession.flush()
    send_after_commit(dbsession, delivery.id)


def includeme(config) -> None:
    config.registry[_POLICY] = AddressPolicy(config.get_settings())
