"""Billing's template globals: how bill, payment and refund statuses and references read on
a page. Registered by billing's ``includeme``, so the shared templating layer knows no feature."""

from __future__ import annotations

import functools
from collections.abc import Callable

from portal.billing.bills import LABELS as BILL_LABELS
from portal.billing.matching import LABELS as BANK_LINE_LABELS
from portal.billing.matching import method_text
from portal.billing.reference import printed
from portal.billing.state import FAILURE_LABELS, REFUND_LABELS
from portal.billing.state import LABELS as PAYMENT_LABELS
from portal.templating import renders_a_page


def _labels(translate, labels: dict) -> Callable[[str], str]:
    """The label of a status code, each translated once per page (lists repeat them)."""
    return functools.cache(lambda code: translate(labels[code]))


def add_globals(event) -> None:
    if not renders_a_page(event):
        return
    request = event["request"]
    translate = request.localizer.translate
    event["printed_reference"] = printed
    event["bill_status"] = _labels(translate, BILL_LABELS)
    event["payment_status"] = _labels(translate, PAYMENT_LABELS)
    event["refund_status"] = _labels(translate, REFUND_LABELS)
    event["bank_line_status"] = _labels(translate, BANK_LINE_LABELS)
    event["payment_method"] = lambda method: method_text(method, translate)
    event["failure_reason"] = lambda code: (
        translate(FAILURE_LABELS[code]) if code in FAILURE_LABELS else ""
    )
