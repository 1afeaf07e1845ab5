"""Sending the outbox: one attempt per task, retried with exponential backoff for a day.

An attempt first claims its delivery with one conditional UPDATE (pending and due), which
also pushes ``next_attempt_at`` a lease ahead: the job enqueued after commit and the
every-minute sweep may both pick a delivery up, and only one of them sends it. The HTTP call
happens outside any transaction, within a deadline well inside the lease; its outcome is
recorded in a transaction of its own, by a conditional UPDATE that finds nothing once another
attempt has claimed the delivery (a worker stalled past its lease does not overwrite the
outcome of the one that took over). A worker that dies mid-attempt leaves the delivery
pending, due again when the lease runs out.
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
from portal.settings import SettingsError
from portal.tasks import enqueue, enqueue_after_commit, periodic_task, task, task_dbsession

log = logging.getLogger(__name__)

#: how long a delivery is retried before it is marked failed
RETRY_WINDOW = dt.timedelta(hours=24)
#: the wait after the first failed attempt; it doubles after each further one
FIRST_BACKOFF = dt.timedelta(minutes=1)
LONGEST_BACKOFF = dt.timedelta(hours=6)
#: longer than an attempt can take (its deadline): an attempt's claim
LEASE = dt.timedelta(minutes=2)
#: the most an attempt takes, every address and byte included (``webhooks.attempt_seconds``
#: may shorten it), well inside the lease
ATTEMPT_DEADLINE = dt.timedelta(seconds=30)
assert ATTEMPT_DEADLINE < LEASE / 2
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
            delivery.attempts,
            delivery.retry_until,
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
        deadline_seconds=attempt_seconds(settings),
        ca_certs=settings.get("webhooks.ca_bundle") or None,
    )


def attempt(registry: Registry, delivery_id: int) -> None:
    """Try to deliver once, if the delivery is due and no other attempt holds it."""
    now = clock(registry).now()
    claim = _claim(registry, delivery_id, now)
    if claim is None:
        return
    attempts, retry_until, url, removed, event_id, event_type, body, secrets = claim
    if removed or not secrets:
        answer = Answer(None, error="endpoint removed" if removed else "no active secret")
    else:
        answer = _send(registry, url, event_id, event_type, body, secrets)
    _record(registry, delivery_id, attempts, retry_until, answer, now, final=removed)


def _record(
    registry: Registry,
    delivery_id: int,
    attempts: int,
    retry_until: dt.datetime,
    answer: Answer,
    started: dt.datetime,
    final: bool,
) -> None:
    """Record the outcome of attempt number ``attempts``, unless another attempt claimed the
    delivery since (its lease ran out): that one's outcome is the one to keep."""
    now = clock(registry).now()
    values: dict = {
        "last_attempt_at": started,
        "last_status_code": answer.status,
        "last_error": answer.error,
        "response_excerpt": answer.excerpt[:300] or None,
    }
    if answer.delivered:
        values |= {"status": DELIVERED, "delivered_at": now}
    else:
        retry_at = now + backoff(attempts)
        if final or retry_at > retry_until:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = retry_at
    with task_dbsession(registry) as dbsession:
        recorded = cast(
            CursorResult,
            dbsession.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.attempts == attempts,
                )
                .values(**values)
            ),
        ).rowcount
    outcome = answer.status if answer.status is not None else answer.error
    if not recorded:
        log.warning(
            "webhook delivery %s attempt %d: %s not recorded, another attempt claimed it",
            delivery_id,
            attempts,
            outcome,
        )
        return
    log.info(
        "webhook delivery %s attempt %d: %s -> %s",
        delivery_id,
        attempts,
        outcome,
        values.get("status", PENDING),
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


def attempt_seconds(settings) -> float:
    """How long an attempt may take (``webhooks.attempt_seconds``, at most
    :data:`ATTEMPT_DEADLINE`)."""
    return min(
        float(settings.get("webhooks.attempt_seconds", ATTEMPT_DEADLINE.total_seconds())),
        ATTEMPT_DEADLINE.total_seconds(),
    )


def includeme(config) -> None:
    settings = config.get_settings()
    try:
        seconds = attempt_seconds(settings)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise SettingsError("webhooks.attempt_seconds must be a positive number of seconds")
    config.registry[_POLICY] = AddressPolicy(settings)
