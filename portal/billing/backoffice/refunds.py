"""A clerk refunding a payment: choosing the bills and the amount on each, confirming on a
page that shows what the payer will owe on every bill afterwards, then refunding.

Nothing is chosen by default, and the refund gives money back on exactly the bills chosen, so
a bill is owed again only because the clerk said so. Both steps carry the refundable amount
the clerk saw; if another refund changed it meanwhile the request is refused (409) rather
than refunding on stale figures. The provider is asked only once the refund is committed; a
refund above the department's four-eyes threshold waits for a second clerk's approval first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from portal.billing import state
from portal.billing.backoffice.payments import payment_values
from portal.billing.matching import BANK, origin_account
from portal.billing.models import Payment
from portal.billing.payments import AMOUNT_FIELD, Payee, check_payee, check_refund
from portal.billing.refunding import refund_approver, refund_as_clerk
from portal.billing.transfer import printed_iban
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.money import Money, MoneyError
from portal.refusals import INVALID, MALFORMED, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

MAX_REASON = 2000
#: the form field of the amount to refund on one bill: this prefix and the bill's public id


@dataclass(frozen=True)
class RefundForm:
    amounts: dict[int, Money]
    seen_refundable: Money
    reason: str
    #: a bank refund's account, when the clerk typed one (checked by check_payee)
    payee: Payee | None = None


def typed_amounts(post) -> dict[str, str]:
    """What the clerk typed in each bill's amount field, by the bill's public id."""
    return {
        key.removeprefix(AMOUNT_FIELD): value.strip()[:32]
        for key, value in post.items()
        if key.startswith(AMOUNT_FIELD) and value.strip()
    }


def read_refund_form(post, payment: Payment) -> RefundForm:
    """Field checks only; whether the refund may go ahead is :func:`check_refund`'s call.
    An empty amount field is a bill not chosen."""
    seen = post.get("seen_refundable", "")
    try:
        seen_refundable = Money.parse(seen, payment.currency)
    except (MoneyError, ArithmeticError):  # Money.parse lets decimal's sNaN error through
        raise Refusal(MALFORMED, _("The form is incomplete. Load the payment again.")) from None
    bill_ids = {allocation.bill.public_id: allocation.bill_id for allocation in payment.allocations}
    amounts: dict[int, Money] = {}
    for public_id, text in typed_amounts(post).items():
        if public_id not in bill_ids or bill_ids[public_id] in amounts:
            raise Refusal(INVALID, _("One of these bills was not paid by this payment."))
        try:
            amounts[bill_ids[public_id]] = Money.parse(text, payment.currency)
        except (MoneyError, ArithmeticError):
            raise Refusal(
                INVALID,
                _(
                    "Enter each amount as a number such as 12.50, with no more decimals"
                    " than allowed."
                ),
                field=AMOUNT_FIELD + public_id,
            ) from None
    reason = post.get("reason", "").strip()
    account_reason = post.get("account_reason", "").strip()
    for field, text in (("reason", reason), ("account_reason", account_reason)):
        if len(text) > MAX_REASON:
            raise Refusal(INVALID, _("Keep the reason under 2000 characters."), field=field)
    payee = None
    if payment.provider == BANK and post.get("iban", "").strip():
        payee = Payee(post.get("iban", "").strip()[:64], account_reason)
    return RefundForm(amounts, seen_refundable, reason, payee)


def _payment_page(request, payment: Payment, errors=None):
    """The payment page again with what the clerk typed, and why it was refused if it was
    (``errors`` by field, or under ``""`` when it names none)."""
    values = payment_values(
        request,
        payment,
        errors=errors,
        amounts=typed_amounts(request.POST),
        reason=request.POST.get("reason", "")[:MAX_REASON],
    )
    if payment.provider == BANK:
        values["form"]["iban"] = request.POST.get("iban", "")[:64]
        values["form"]["account_reason"] = request.POST.get("account_reason", "")[:MAX_REASON]
    return render_to_response(
        "billing/backoffice/payment.jinja2", values, request=request, response=request.response
    )


def _refused(request, payment: Payment, refused: Refusal):
    """The payment page again, the form as the clerk filled it in and why it was refused:
    better than an error page, which would lose what was typed."""
    errors = form_refused(request, refused)
    log.warning(
        "refund of payment %s refused (%d): %s",
        payment.public_id,
        request.response.status_int,
        refused.message.interpolate(),
    )
    return _payment_page(request, payment, errors)


@view_config(
    route_name="backoffice_payment_refund_confirm",
    request_method="POST",
    renderer="billing/backoffice/payment_refund_confirm.jinja2",
    permission="refund",
    assurance=CLERK,
)
def confirm(context, request):
    """What the refund would do, bill by bill, before it is made; changes nothing."""
    payment = context.payment
    if "change" in request.POST:
        return _payment_page(request, payment)
    try:
        form = read_refund_form(request.POST, payment)
        shares = check_refund(
            request.dbsession, payment, form.amounts, form.seen_refundable, form.reason
        )
        payee = check_payee(request.dbsession, payment, form.payee)
        approver = refund_approver(request.dbsession, payment, form.amounts, payee)
    except Refusal as refused:
        return _refused(request, payment, refused)
    chosen = [share for share in shares if share.chosen]
    return {
        "needs_approval": approver is not None,
        "payment": payment,
        "shares": shares,
        "total": Money(sum(share.amount.minor for share in chosen), payment.currency),
        "chosen": chosen,
        "reason": form.reason,
        "seen_refundable": form.seen_refundable,
        "by_bank": payment.provider == BANK,
        "origin": origin_account(request.dbsession, payment),
        "payee": payee,
        "typed_iban": form.payee.iban if form.payee else "",
        "account_reason": form.payee.reason if form.payee else "",
        "printed_iban": printed_iban,
    }


@view_config(
    route_name="backoffice_payment_refunds",
    request_method="POST",
    permission="refund",
    assurance=CLERK,
)
def refund(context, request):
    payment = context.payment
    try:
        form = read_refund_form(request.POST, payment)
        made = refund_as_clerk(
            request.dbsession,
            payment,
            form.amounts,
            form.seen_refundable,
            form.reason,
            request.user,
            payee=form.payee,
        )
    except Refusal as refused:
        return _refused(request, payment, refused)
    log.info(
        "refund %s of payment %s requested on %d bills",
        made.public_id,
        payment.public_id,
        len(made.lines),
    )
    amount = made.amount.format(request.localizer.locale_name or "en")
    if made.status == state.REFUND_AWAITING_APPROVAL:
        message = _(
            "Refund of ${amount} asked for. A second clerk of the department must approve it "
            "before it is sent to the payment provider.",
            mapping={"amount": amount},
        )
    elif made.status == state.REFUND_TO_TRANSFER:
        message = _(
            "Refund of ${amount} recorded. It goes in the next credit-transfer file to the "
            "bank (Refunds by bank transfer).",
            mapping={"amount": amount},
        )
    else:
        message = _(
            "Refund of ${amount} requested. It is sent to the payment provider now.",
            mapping={"amount": amount},
        )
    request.session.flash(request.localizer.translate(message))
    return HTTPSeeOther(request.route_url("backoffice_payment", public_id=payment.public_id))
