"""A clerk refunding a payment, partly or in full.

The form carries the refundable amount the clerk saw; if another refund changed it meanwhile
the request is refused (409) rather than refunding on stale figures. The provider is asked
only once the refund is committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from portal.backoffice.payments import payment_values
from portal.billing.models import Payment
from portal.billing.money import Money, MoneyError
from portal.billing.payments import PaymentRefused, request_refund
from portal.billing.tasks import send_refund_after_commit
from portal.i18n import _
from portal.identity.assurance import CLERK, require_assurance

log = logging.getLogger(__name__)

MAX_REASON = 2000


class RefundFormError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RefundForm:
    amount: Money
    seen_refundable: Money
    reason: str


def read_refund_form(post, payment: Payment) -> RefundForm:
    """Field checks only; whether the refund may go ahead is :func:`request_refund`'s call."""
    seen = post.get("seen_refundable", "")
    try:
        seen_refundable = Money.parse(seen, payment.currency)
    except (MoneyError, ArithmeticError):  # Money.parse lets decimal's sNaN error through
        raise HTTPBadRequest(detail=_("The form is incomplete. Load the payment again.")) from None
    text = post.get("amount", "").strip()
    if not text:
        raise RefundFormError(_("Enter the amount to refund."))
    try:
        amount = Money.parse(text, payment.currency)
    except (MoneyError, ArithmeticError):  # Money.parse lets decimal's sNaN error through
        raise RefundFormError(
            _("Enter the amount as a number such as 12.50, with no more decimals than allowed.")
        ) from None
    reason = post.get("reason", "").strip()
    if not reason:
        raise RefundFormError(_("Give a reason for the refund."))
    if len(reason) > MAX_REASON:
        raise RefundFormError(_("Keep the reason under 2000 characters."))
    return RefundForm(amount, seen_refundable, reason)


def _refused(request, payment: Payment, status: int, message: str):
    """The payment page again, with the message and what the clerk typed."""
    request.response.status_int = status
    values = payment_values(
        request,
        payment,
        amount=request.POST.get("amount", "")[:32],
        reason=request.POST.get("reason", "")[:MAX_REASON],
        error=request.localizer.translate(message),
    )
    return render_to_response(
        "backoffice/payment.jinja2", values, request=request, response=request.response
    )


@view_config(route_name="backoffice_payment_refunds", request_method="POST", permission="refund")
def refund(context, request):
    require_assurance(request, CLERK)
    payment = context.payment
    try:
        form = read_refund_form(request.POST, payment)
        made = request_refund(
            request.dbsession,
            payment,
            form.amount,
            form.seen_refundable,
            form.reason,
            request.user,
        )
    except RefundFormError as error:
        return _refused(request, payment, 422, error.message)
    except PaymentRefused as refused:
        log.warning("refund of payment %s refused: %s", payment.public_id, refused.message)
        return _refused(request, payment, refused.status, _(refused.message))
    send_refund_after_commit(request, made)
    log.info("refund %s of payment %s requested", made.public_id, payment.public_id)
    request.session.flash(
        request.localizer.translate(
            _(
                "Refund of ${amount} requested. It is sent to the payment provider now.",
                mapping={"amount": made.amount.format(request.localizer.locale_name or "en")},
            )
        )
    )
    return HTTPSeeOther(request.route_url("backoffice_payment", public_id=payment.public_id))
