"""A bank credit that matched no bill, or several, as a clerk of its department decides it:
assign it to bills (it is posted to them as a matched credit is) or return it to the payer's
bank (nothing is posted; the clerk sends the money back through the bank's own channel)."""

from __future__ import annotations

import logging
from typing import cast

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import CursorResult, or_, select, update

from portal.audit import record_request
from portal.billing import events
from portal.billing.bills import with_status
from portal.billing.matching import (
    ASSIGNED,
    RETURNED,
    UNMATCHED,
    candidates,
    of_department,
    post_line,
)
from portal.billing.models import BankLine, Bill
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.money import Money
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal
from portal.security import ROLE_ADMIN, department_principal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: bills one credit may be assigned to at once
MAX_BILLS = 10


class BankLineContext:
    def __init__(self, line: BankLine):
        self.line = line

    @property
    def __acl__(self):
        return [
            (Allow, department_principal(self.line.department_id), "work"),
            (Allow, ROLE_ADMIN, "work"),
        ]


def bank_line_factory(request) -> BankLineContext:
    public_id = request.matchdict["line"]
    line = None
    if len(public_id) == 32:
        line = request.dbsession.scalar(select(BankLine).where(BankLine.public_id == public_id))
    if line is None:
        raise HTTPNotFound()
    return BankLineContext(line)


@view_config(
    route_name="backoffice_bank_line",
    renderer="billing/backoffice/bank_line.jinja2",
    permission="work",
    assurance=CLERK,
)
def bank_line_page(context, request):
    return _page_values(request, context.line)


def _page_values(request, line: BankLine, errors=None, bills: str = "") -> dict:
    """The credit's page; ``errors`` by field and the ``bills`` typed when an assignment
    was refused."""
    return {
        "line": line,
        "candidates": with_status(request.dbsession, candidates(request.dbsession, line)),
        "matched": with_status(request.dbsession, [match.bill for match in line.matches]),
        "shares": {
            match.bill_id: Money(match.amount_minor, line.currency) for match in line.matches
        },
        "errors": errors or {},
        "bills": bills,
    }


def _bills_named(request, text: str, line: BankLine) -> list[Bill]:
    """The payable bills of ``line``'s department named (by number or RF reference) in
    ``text``, in the order given, in the credit's currency."""
    currency = line.currency
    names = [name.strip() for name in text.replace(";", ",").split(",") if name.strip()]
    if not names or len(names) > MAX_BILLS:
        raise _not_assignable(_("Name one to ten bills, by number or reference."))
    bills = []
    for name in names:
        found = list(
            request.dbsession.scalars(
                select(Bill).where(
                    or_(Bill.number == name, Bill.reference == name.replace(" ", "").upper()),
                    of_department(line.department_id),
                )
            )
        )
        if len(found) != 1:
            raise _not_assignable(_("A bill named here does not exist, or is not the only one."))
        bills.extend(found)
    views = with_status(request.dbsession, bills)
    if len({bill.id for bill in bills}) != len(bills) or not all(
        view.payable and view.bill.currency == currency for view in views
    ):
        raise _not_assignable(_("Each bill must be different, open and in the credit's currency."))
    # one credit comes from one payer: spreading it over several payers' bills would hand one
    # payer's money (and its surplus, the payer's credit) to another
    if len({(bill.payer_user_id, bill.payer_organisation_id) for bill in bills}) != 1:
        raise _not_assignable(_("All the bills must be of the same payer."))
    return bills


def _not_assignable(why) -> Refusal:
    """The form refused, ``why`` shown beside the bills field."""
    return Refusal(
        INVALID,
        _("These bills cannot be assigned the credit."),
        errors=[FieldError("bills", why)],
    )


def _claim(request, line: BankLine, status: str) -> None:
    """Decide ``line`` only if it is still undecided, in one conditional UPDATE: of two clerks
    deciding the same credit at once, the second's UPDATE waits for the first's transaction
    and then finds the line decided, so a credit is never both returned and posted."""
    claimed = cast(
        CursorResult,
        request.dbsession.execute(
            update(BankLine)
            .where(BankLine.id == line.id, BankLine.status == UNMATCHED)
            .values(status=status)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        log.info("bank line %s: already decided by someone else", line.public_id)
        raise Refusal(CONFLICT, _("This credit was already decided."))
    line.status = status


@view_config(
    route_name="backoffice_bank_line",
    request_method="POST",
    renderer="billing/backoffice/bank_line.jinja2",
    permission="work",
    assurance=CLERK,
)
def decide(context, request):
    """Assign the credit to the bills named, or return it; bills that cannot have it show
    the page again with the error by the bills' field (nothing decided)."""
    line = context.line
    if line.status != UNMATCHED:
        raise Refusal(CONFLICT, _("This credit was already decided."))
    now = request.clock.now()
    action = request.POST.get("action")
    if action == "assign":
        named = str(request.POST.get("bills", ""))[:2000]
        try:
            bills = _bills_named(request, named, line)
        except Refusal as refused:
            return _page_values(request, line, form_refused(request, refused), named)
        _claim(request, line, ASSIGNED)
        post_line(request.dbsession, line, bills, now)
    elif action == "return":
        _claim(request, line, RETURNED)
    else:
        raise Refusal(INVALID, _("Choose whether to assign the credit or return it."))
    line.decided_at = now
    line.decided_by_id = request.user.id
    record_request(request, f"bank_line.{line.status}", object=("bank_line", line.public_id))
    events.announce(events.BankLineDecided(line, request.user, request.dbsession))
    log.info("bank line %s %s", line.public_id, line.status)
    return HTTPSeeOther(request.route_url("backoffice_bank_line", line=line.public_id))
