"""The payer's "pay by bank transfer" page of one open bill: the authority's account, the
bill's RF reference, the amount still owed and the EPC QR code that banking apps read. Of
an overpaid bill it shows the payer's credit and how its refund stands."""

from __future__ import annotations

from pyramid.view import view_config
from sqlalchemy import select

from portal.billing import state
from portal.billing.bills import OVERPAID, with_status
from portal.billing.models import Bill, Refund, RefundLine
from portal.billing.transfer import epc_payload, printed_iban, qr_png_data_uri
from portal.i18n import _
from portal.refusals import NOT_FOUND, Refusal


def _own_bill(request, public_id: str) -> Bill:
    """The bill if this person pays it, themself or for an organisation they represent; any
    other bill is "not found", so its existence is not given away."""
    user = request.user
    bill = request.dbsession.scalar(select(Bill).where(Bill.public_id == public_id))
    organisations = {organisation.id for organisation in user.organisations}
    if bill is None or not (
        bill.payer_user_id == user.id or bill.payer_organisation_id in organisations
    ):
        raise Refusal(NOT_FOUND, _("This bill does not exist."))
    return bill


@view_config(route_name="bill_transfer", renderer="billing/transfer.jinja2", permission="account")
def bill_transfer(request):
    bill = _own_bill(request, request.matchdict["public_id"])
    (view,) = with_status(request.dbsession, [bill])
    account = request.registry.get("transfer_account")
    qr = None
    if account is not None and view.payable and view.outstanding.currency == "EUR":
        qr = qr_png_data_uri(
            epc_payload(account, view.outstanding, bill.reference or "", bill.number)
        )
    refunds = list(
        request.dbsession.scalars(
            select(Refund)
            .join(RefundLine, RefundLine.refund_id == Refund.id)
            .where(
                RefundLine.bill_id == bill.id,
                Refund.status.not_in(list(state.REFUND_NOT_APPROVED)),
            )
            .order_by(Refund.id)
        )
    )
    return {
        # what was paid beyond the bill's amount: the payer's credit, refunded to them
        "credit": -view.outstanding if view.status == OVERPAID else None,
        "refunds": refunds,
        "view": view,
        "bill": bill,
        "account": account,
        "iban": printed_iban(account.iban) if account else "",
        "qr": qr,
    }
