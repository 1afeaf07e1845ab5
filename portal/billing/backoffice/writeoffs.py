"""A clerk writing off a bill of their department: found by its number or RF reference,
shown with what is still owed, written off with a reason (at once, or once a second clerk
approves it when it is above the department's threshold)."""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import or_, select

from portal.billing import approvals
from portal.billing.bills import with_status
from portal.billing.models import Bill
from portal.billing.writeoffs import WRITE_OFF, owed_to_write_off, write_off_as_clerk
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.refusals import INVALID, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)


def _find(dbsession, department_id: int, search: str) -> Bill | None:
    compact = search.replace(" ", "").upper()
    return dbsession.scalar(
        select(Bill)
        .join(Service, Bill.service_id == Service.id)
        .where(
            Service.department_id == department_id,
            or_(Bill.number == search, Bill.reference == compact),
        )
        .order_by(Bill.id.desc())
        .limit(1)
    )


@view_config(
    route_name="backoffice_department_write_off",
    renderer="billing/backoffice/write_off.jinja2",
    permission="work",
    assurance=CLERK,
)
def find_bill(context, request):
    """The search, and the bill found with what writing it off would do."""
    department = context.department
    search = request.GET.get("q", "").strip()[:64]
    bill = _find(request.dbsession, department.id, search) if search else None
    return _page_values(request, department, search, bill)


def _page_values(request, department, search: str, bill: Bill | None) -> dict:
    """The page with ``bill`` found by ``search`` (a refused write-off adds its ``errors``
    by field and the ``reason`` typed)."""
    view = with_status(request.dbsession, [bill])[0] if bill else None
    return {
        "department": department,
        "search": search,
        "view": view,
        "threshold": approvals.threshold(request.registry.settings, department.code),
        "pending": approvals.awaiting_on(request.dbsession, WRITE_OFF, bill.public_id)
        if bill
        else None,
        "errors": {},
        "reason": "",
    }


@view_config(
    route_name="backoffice_bill_write_off",
    request_method="POST",
    renderer="billing/backoffice/write_off.jinja2",
    permission="work",
    assurance=CLERK,
)
def write_off(context, request):
    """Write the bill off, or ask a second clerk to; with no reason (or one too long) the
    page again with the error by the reason's field, the bill as it was."""
    bill = context.bill
    # a bill with nothing to write off is refused first (the error page): its page has no
    # form to correct
    owed_to_write_off(request.dbsession, bill)
    typed = str(request.POST.get("reason", ""))
    try:
        reason = approvals.read_reason(typed)
        if not reason:
            raise Refusal(INVALID, _("Give the reason for writing the bill off."), field="reason")
    except Refusal as refused:
        department = bill.service.department
        values = _page_values(request, department, bill.number, bill)
        if values["pending"] is not None:
            raise  # a stale page's post: the bill's page has no form now, only the request
        values.update(errors=form_refused(request, refused), reason=typed)
        return values
    approval = write_off_as_clerk(
        request.dbsession, bill, reason, request.user, request.clock.now()
    )
    if approval is None:
        message = _("Written off. The payer owes nothing more on this bill.")
    else:
        log.info("write-off of bill %s awaits approval %s", bill.public_id, approval.public_id)
        message = _(
            "Write-off asked for. A second clerk of the department must approve it; until "
            "then the bill stays owed."
        )
    request.session.flash(request.localizer.translate(message))
    department = bill.service.department
    return HTTPSeeOther(
        request.route_url(
            "backoffice_department_write_off", code=department.code, _query={"q": bill.number}
        )
    )
