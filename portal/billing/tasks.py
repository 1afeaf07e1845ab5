"""Billing's background jobs: sending refunds, and settling or expiring unfinished payments;
and :func:`apply_report`, the one way a provider's report is applied, which queues them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import delete, select

from portal.billing import state
from portal.billing.models import IdempotencyKey, Payment, Refund
from portal.billing.payments import (
    apply_provider_payment,
    apply_refund_report,
    flag_for_clerk,
    send_refund,
)
from portal.billing.providers import ProviderRefund, ProviderUnavailable, provider_of
from portal.clock import clock
from portal.ratelimit import RateLimiter, rate_limiter
from portal.tasks import enqueue_after_commit, periodic_task, task, task_dbsession

log = logging.getLogger(__name__)

#: how long after expiry the provider is still asked whether the payer paid after all
LATE_SUCCESS_WINDOW = dt.timedelta(hours=24)
#: keep Idempotency-Keys well past the 24 hours promised
IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=48)
_STATUS_QUERY_LIMITER = "billing.status_query_limiter"


@task(retries=8, retry_delay=30)
def send_refund_task(registry: Registry, refund_id: int) -> None:
    with task_dbsession(registry) as dbsession:
        refund = dbsession.get(Refund, refund_id)
        try:
            # to the provider that took the payment, whichever is the default now
            provider = provider_of(registry, refund.payment.provider)
            send_refund(dbsession, refund, provider, clock(registry).now())
        except ProviderUnavailable:
            log.warning("refund %s: provider unavailable, will retry", refund.public_id)
            raise


def send_refund_after_commit(request_or_dbsession, refund: Refund) -> None:
    """Send ``refund`` to its payment's provider once the transaction commits; a bank
    transfer's refund (to_transfer) has none, it waits for a clerk to export it."""
    if refund.status == state.REFUND_REQUESTED:
        enqueue_after_commit(request_or_dbsession, send_refund_task, refund.id)


def apply_report(
    dbsession,
    payment: Payment,
    report,
    cause: str,
    now: dt.datetime,
    refund: ProviderRefund | None = None,
    *,
    locked: bool = False,
    refunds: Sequence[ProviderRefund] = (),
) -> None:
    """Bring ``payment`` in line with the provider's ``report`` (and with what it says of
    its refunds, ``refund`` or ``refunds``, if it does) as of ``now``, then send the refunds
    that calls for (an overpayment given back) once the transaction commits. ``locked``: the
    caller locked ``payment`` as :func:`portal.billing.payments.apply_provider_payment` says.

    A refund is posted when the provider says it succeeded, failed when it says it failed
    or was cancelled; one the portal did not ask for (made in the provider's dashboard) is
    left to reconciliation."""
    for overpaid in apply_provider_payment(dbsession, payment, report, cause, now, locked=locked):
        send_refund_after_commit(dbsession, overpaid)
    for told in ([refund] if refund is not None else []) + list(refunds):
        if not told.reference:
            log.info("refund %s not made by the portal: ignored", told.provider_refund_id)
            continue
        ours = dbsession.scalar(select(Refund).where(Refund.public_id == told.reference))
        if ours is not None and ours.payment_id == payment.id and told.amount == ours.amount:
            if ours.provider_refund_id is None:
                ours.provider_refund_id = told.provider_refund_id
            apply_refund_report(dbsession, ours, told.status, now, cause)
        elif ours is not None:
            flag_for_clerk(
                dbsession, payment, f"provider reports refund {ours.public_id} otherwise"
            )
            log.error("refund %s reported on another payment or amount", ours.public_id)


@periodic_task(crontab(minute="*"))
def settle_or_expire_payments(registry: Registry) -> None:
    """Ask the provider about payments still in progress, and about those that expired
    recently (a payer may have finished just in time on a card that never notifies); expire
    those past their time."""
    recently = clock(registry).now() - LATE_SUCCESS_WINDOW
    with task_dbsession(registry) as dbsession:
        ids = list(
            dbsession.scalars(
                select(Payment.id).where(
                    Payment.status.in_(state.IN_PROGRESS)
                    | ((Payment.status == state.EXPIRED) & (Payment.expires_at > recently))
                )
            )
        )
    for payment_id in ids:
        settle_or_expire(registry, payment_id)


@task()
def settle_or_expire(registry: Registry, payment_id: int) -> None:
    """Ask the provider about one payment and apply its report; expire it if past its time.
    Also a job of its own: the page of a started payment queues it (a GET never writes).
    The provider asked is the one that took the payment."""
    with task_dbsession(registry) as dbsession:
        payment = dbsession.get(Payment, payment_id)
        if payment.status not in (*state.IN_PROGRESS, state.EXPIRED):
            return
        try:
            provider = provider_of(registry, payment.provider)
            report = provider.query_payment(payment.public_id, payment.provider_payment_id)
        except ProviderUnavailable:
            log.warning("payment %s: provider unavailable, will ask again", payment.public_id)
            return
        if report is not None:
            apply_report(dbsession, payment, report, "provider status query", clock(registry).now())
        now = clock(registry).now()
        if payment.status in state.IN_PROGRESS and now >= payment.expires_at:
            state.transition(payment, state.EXPIRED, "not finished in time", now)
            log.info("payment %s expired", payment.public_id)


def status_query_limiter(registry: Registry) -> RateLimiter:
    """The application's limiter of status queries asked for by pages: at most one every
    2 seconds per payment (the waiting page refreshes every 3), however often it is reloaded
    (made on first use)."""
    limiter = registry.get(_STATUS_QUERY_LIMITER)
    if limiter is None:
        limiter = registry[_STATUS_QUERY_LIMITER] = rate_limiter(
            registry.settings, "status-query", 1, 2
        )
    return limiter


def ask_provider_soon(request, payment: Payment) -> None:
    """Queue a status query of ``payment``, started with the provider, once the request
    commits: the payer back from the provider sees the outcome within a refresh or two
    whether or not the provider notifies, and the page itself writes nothing. Time is the
    clock's, so that a test moves past the limit rather than waiting."""
    now = clock(request.registry).now().timestamp()
    if status_query_limiter(request.registry).allow(payment.public_id, now):
        enqueue_after_commit(request, settle_or_expire, payment.id)


@periodic_task(crontab(minute="7", hour="*"))
def purge_idempotency_keys(registry: Registry) -> None:
    oldest = clock(registry).now() - IDEMPOTENCY_KEY_LIFETIME
    with task_dbsession(registry) as dbsession:
        dbsession.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < oldest))
