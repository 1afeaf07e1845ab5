"""Billing's background jobs: sending refunds, and settling or expiring unfinished payments."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from sqlalchemy import delete, select

from portal.billing import state
from portal.billing.models import IdempotencyKey, Payment, Refund
from portal.billing.payments import apply_provider_payment, send_refund
from portal.billing.providers import ProviderUnavailable
from portal.tasks import enqueue_after_commit, huey, registry, task_dbsession

log = logging.getLogger(__name__)

#: how long after expiry the provider is still asked whether the payer paid after all
LATE_SUCCESS_WINDOW = dt.timedelta(hours=24)
#: keep Idempotency-Keys well past the 24 hours promised
IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=48)


@huey.task(retries=8, retry_delay=30)
def send_refund_task(refund_id: int) -> None:
    with task_dbsession() as dbsession:
        refund = dbsession.get(Refund, refund_id)
        try:
            send_refund(
                dbsession, refund, registry()["payment_provider"], registry()["clock"].now()
            )
        except ProviderUnavailable:
            log.warning("refund %s: provider unavailable, will retry", refund.public_id)
            raise


def send_refund_after_commit(request, refund: Refund) -> None:
    enqueue_after_commit(request, send_refund_task, refund.id)


@huey.periodic_task(crontab(minute="*"))
def settle_or_expire_payments() -> None:
    """Ask the provider about payments still in progress, and about those that expired
    recently (a payer may have finished just in time on a card that never notifies); expire
    those past their time."""
    recently = registry()["clock"].now() - LATE_SUCCESS_WINDOW
    with task_dbsession() as dbsession:
        ids = list(
            dbsession.scalars(
                select(Payment.id).where(
                    Payment.status.in_(state.IN_PROGRESS)
                    | ((Payment.status == state.EXPIRED) & (Payment.expires_at > recently))
                )
            )
        )
    for payment_id in ids:
        settle_or_expire(payment_id)


def settle_or_expire(payment_id: int) -> None:
    provider = registry()["payment_provider"]
    clock = registry()["clock"]
    refunds = []
    with task_dbsession() as dbsession:
        payment = dbsession.get(Payment, payment_id)
        if payment.status not in (*state.IN_PROGRESS, state.EXPIRED):
            return
        try:
            report = provider.query_payment(payment.public_id)
        except ProviderUnavailable:
            log.warning("payment %s: provider unavailable, will ask again", payment.public_id)
            return
        if report is not None:
            refunds = apply_provider_payment(
                dbsession, payment, report, "provider status query", clock.now()
            )
        now = clock.now()
        if payment.status in state.IN_PROGRESS and now >= payment.expires_at:
            state.transition(payment, state.EXPIRED, "not finished in time", now)
            log.info("payment %s expired", payment.public_id)
        refund_ids = [refund.id for refund in refunds]
    for refund_id in refund_ids:
        send_refund_task(refund_id)


@huey.periodic_task(crontab(minute="7", hour="*"))
def purge_idempotency_keys() -> None:
    oldest = registry()["clock"].now() - IDEMPOTENCY_KEY_LIFETIME
    with task_dbsession() as dbsession:
        dbsession.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < oldest))
