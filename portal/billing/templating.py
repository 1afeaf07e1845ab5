"""Billing's template globals: how bill, payment and refund statuses and references read on
a page. Registered by billing's ``includeme``, so the shared templating layer knows no feature."""

from __future__ import annotations

from portal.billing.bills import LABELS as BILL_LABELS
from portal.billing.reference import printed
from portal.billing.state import FAILURE_LABELS, REFUND_LABELS
from portal.billing.state import LABELS as PAYMENT_LABELS


def add_globals(event) -> None:
    request = event.get("request")
    if request is None:
        return
    translate = request.localizer.translate
    event["printed_reference"] = printed
    event["bill_status"] = lambda status: translate(BILL_LABELS[status])
    event["payment_status"] = lambda status: translate(PAYMENT_LABELS[status])
    event["refund_status"] = lambda status: translate(REFUND_LABELS[status])
    event["failure_reason"] = lambda code: (
        translate(FAILURE_LABELS[code]) if code in FAILURE_LABELS else ""
    )
