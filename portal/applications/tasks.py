"""Closing the bill of a rejected application once its fee has been refunded.

A refund makes a bill owed again (see :func:`portal.billing.payments.post_refund`); the fee of
a rejected application is not owed, so its bill is cancelled once the provider confirmed the
refund, which leaves the payer's account and the service's revenue both back at zero.
"""

from __future__ import annotations

import logging

from portal.applications.models import Application
from portal.billing.bills import cancel_bill
from portal.tasks import enqueue_after_commit, huey, registry, task_dbsession

log = logging.getLogger(__name__)


class RefundPending(RuntimeError):
    """The refund is not confirmed yet; the task runs again later."""


@huey.task(retries=20, retry_delay=30)
def close_rejected_bill(application_id: int) -> None:
    with task_dbsession() as dbsession:
        application = dbsession.get(Application, application_id)
        bill = application.bill
        if bill is None or bill.cancelled_at is not None:
            return
        refund = application.refund
        if refund is not None and refund.status != "succeeded":
            raise RefundPending(f"refund {refund.public_id} not confirmed yet")
        cancel_bill(
            dbsession, bill, "Application rejected; the fee was refunded", registry()["clock"].now()
        )
        log.info("bill %s of rejected application %s cancelled", bill.id, application.public_id)


def close_rejected_bill_after_commit(request, application: Application) -> None:
    enqueue_after_commit(request, close_rejected_bill, application.id)
