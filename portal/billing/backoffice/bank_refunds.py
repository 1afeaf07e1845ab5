"""The clerks' side of refunds by bank transfer (:mod:`portal.billing.bank_refunds`): a
department's refunds waiting to be sent, the credit-transfer files made and their download,
and on each refund: another account (with the reason), the bank carried it out, the bank
returned it."""

from __future__ import annotations

import logging

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from portal.audit import record_request
from portal.billing import bank_refunds, state
from portal.billing.backoffice.payments import payment_values
from portal.billing.matching import BANK
from portal.billing.models import Refund, RefundTransferFile
from portal.billing.resources import PaymentContext
from portal.billing.transfer import printed_iban
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.refusals import INVALID, UNAVAILABLE, Refusal
from portal.security import ROLE_ADMIN, department_principal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: the most recent credit-transfer files the page lists
FILES_SHOWN = 20
MAX_REASON = 2000


class RefundContext:
    """A refund, as those who may refund its payment may act on it."""

    def __init__(self, refund: Refund):
        self.refund = refund

    @property
    def __acl__(self):
        return list(PaymentContext(self.refund.payment).__acl__)


def refund_factory(request) -> RefundContext:
    public_id = request.matchdict["refund"]
    refund = None
    if len(public_id) == 32:
        refund = request.dbsession.scalar(select(Refund).where(Refund.public_id == public_id))
    if refund is None or refund.payment.provider != BANK:
        raise HTTPNotFound()
    return RefundContext(refund)


class TransferFileContext:
    def __init__(self, transfer_file: RefundTransferFile):
        self.transfer_file = transfer_file
        self.__acl__ = [
            (Allow, department_principal(transfer_file.department_id), "work"),
            (Allow, ROLE_ADMIN, "work"),
        ]


def transfer_file_factory(request) -> TransferFileContext:
    public_id = request.matchdict["file"]
    found = None
    if len(public_id) == 32:
        found = request.dbsession.scalar(
            select(RefundTransferFile).where(RefundTransferFile.public_id == public_id)
        )
    if found is None:
        raise HTTPNotFound()
    return TransferFileContext(found)


def remittance(request):
    """What the payer's bank shows them of a refund, in the clerk's language (the portal's)."""
    translate = request.localizer.translate

    def describe(refund: Refund) -> str:
        numbers = ", ".join(line.bill.number for line in refund.lines)
        return translate(_("Refund, bill ${numbers}", mapping={"numbers": numbers}))

    return describe


@view_config(
    route_name="backoffice_bank_refunds",
    renderer="billing/backoffice/bank_refunds.jinja2",
    permission="work",
    assurance=CLERK,
)
def bank_refunds_page(context, request):
    department = context.department
    dbsession = request.dbsession
    waiting = bank_refunds.department_refunds(
        dbsession, department.id, {state.REFUND_TO_TRANSFER, state.REFUND_AWAITING_APPROVAL}
    )
    sent = bank_refunds.department_refunds(dbsession, department.id, {state.REFUND_SENT})
    files = dbsession.scalars(
        select(RefundTransferFile)
        .where(RefundTransferFile.department_id == department.id)
        .order_by(RefundTransferFile.created_at.desc(), RefundTransferFile.id.desc())
        .limit(FILES_SHOWN)
    )
    return {
        "department": department,
        "waiting": waiting,
        "ready": [refund for refund in waiting if bank_refunds.exportable(refund)],
        "sent": sent,
        "files": list(files),
        "printed_iban": printed_iban,
        "account_configured": request.registry.get("transfer_account") is not None,
    }


@view_config(
    route_name="backoffice_bank_refunds",
    request_method="POST",
    permission="work",
    assurance=CLERK,
)
def export(context, request):
    """Make the credit-transfer file of the refunds ready to be sent; they are sent."""
    account = request.registry.get("transfer_account")
    if account is None:
        raise Refusal(UNAVAILABLE, _("Payment by bank transfer is not configured."))
    transfer_file = bank_refunds.export(
        request.dbsession,
        context.department,
        request.user,
        account,
        request.clock.now(),
        remittance(request),
    )
    request.session.flash(
        request.localizer.translate(
            _(
                "Credit-transfer file ${file} made: ${count} refunds. Download it and upload it "
                "to the bank.",
                mapping={"file": transfer_file.message_id, "count": transfer_file.transfers},
            )
        )
    )
    return HTTPSeeOther(request.route_url("backoffice_bank_refunds", code=context.department.code))


@view_config(route_name="backoffice_refund_transfer_file", permission="work", assurance=CLERK)
def download(context, request):
    """The file as it was made, every time."""
    transfer_file = context.transfer_file
    record_request(
        request,
        "refund_transfer_file.downloaded",
        object=("refund_transfer_file", transfer_file.public_id),
    )
    response = Response(
        body=transfer_file.xml,
        content_type="application/xml",
        content_disposition=f'attachment; filename="{transfer_file.message_id}.xml"',
    )
    response.cache_control = "no-store"
    response.etag = transfer_file.sha256
    return response


#: the payment page's ids of each refund row form's fields (``{}``: the refund's public id),
#: by the action the form sends and the field's name
ROW_FIELDS = {
    "account": {"iban": "iban-{}", "reason": "reason-{}"},
    "returned": {"reason": "returned-{}"},
}


@view_config(
    route_name="backoffice_refund_bank",
    request_method="POST",
    permission="refund",
    assurance=CLERK,
)
def act(context, request):
    """On one bank refund: send it to another account, or record that the bank carried it
    out or returned it. A field the clerk got wrong (an IBAN that is none, no reason) shows
    the payment page again with the error by that field of the refund's row."""
    refund = context.refund
    action = str(request.POST.get("action", ""))
    now = request.clock.now()
    reason = str(request.POST.get("reason", "")).strip()
    typed = {"iban": str(request.POST.get("iban", ""))[:64], "reason": reason[:MAX_REASON]}
    try:
        if len(reason) > MAX_REASON:
            raise Refusal(INVALID, _("Keep the reason under 2000 characters."), field="reason")
        if action == "account":
            if bank_refunds.change_account(
                request.dbsession, refund, typed["iban"], reason, request.user, now
            ):
                message = _(
                    "The refund goes to the account given once a second clerk of the "
                    "department approves it."
                )
            else:
                message = _("The refund goes to the account given.")
        elif action == "confirm":
            bank_refunds.confirm(request.dbsession, refund, request.user, now)
            message = _("The refund is recorded as carried out by the bank.")
        elif action == "returned":
            bank_refunds.returned(request.dbsession, refund, request.user, reason, now)
            message = _(
                "The refund is recorded as returned by the bank; its money can be refunded again."
            )
        else:
            raise Refusal(INVALID, _("Choose what to record about the refund."))
    except Refusal as refused:
        if not refused.errors or action not in ROW_FIELDS:
            raise  # not a field's fault (already sent, not sent yet): the error page
        return _row_refused(request, refund, action, refused, typed)
    log.info("bank refund %s: %s by user=%s", refund.public_id, action, request.user.id)
    request.session.flash(request.localizer.translate(message))
    return HTTPSeeOther(request.route_url("backoffice_payment", public_id=refund.payment.public_id))


def _row_refused(request, refund: Refund, action: str, refused: Refusal, typed: dict):
    """The payment page again, the refund's row form as the clerk filled it in and the
    errors by its fields (their ids carry the refund's id: the page has a form per row)."""
    ids = {name: field.format(refund.public_id) for name, field in ROW_FIELDS[action].items()}
    errors = {ids[name]: message for name, message in form_refused(request, refused).items()}
    values = payment_values(
        request,
        refund.payment,
        errors=errors,
        row_typed={ids[name]: typed[name] for name in ids},
    )
    return render_to_response(
        "billing/backoffice/payment.jinja2", values, request=request, response=request.response
    )
