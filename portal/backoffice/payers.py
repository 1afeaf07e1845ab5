"""The payer view for clerks: find a person or an organisation, then see on one page their
bills, the payments of those bills, the refunds of those payments and their cases.

A clerk finds and sees only payers with bills of their departments' services, and of those
payers only what concerns those services (administrators see everything). The search is a
POST, so what was searched for (a name, a national identifier) never appears in a URL or an
access log. A person's national identifier is shown masked; a clerk who needs it whole asks
for it with a reason, and that is recorded in the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.audit import record_request
from portal.billing import OVERPAID, BillView, settling_payment, with_status
from portal.billing.models import Bill, Payment, PaymentAllocation, Refund, RefundLine
from portal.cases import state as case_state
from portal.cases.kinds import case_kinds
from portal.cases.models import Case
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import Organisation, User
from portal.identity.pii import masked, national_id_of
from portal.money import Money
from portal.refusals import INVALID, Refusal
from portal.security import ROLE_ADMIN, department_principal
from portal.services.models import UtilityAccount
from portal.web import form_refused

log = logging.getLogger(__name__)

PERSON = "people"
ORGANISATION = "organisations"
#: the most payers a search lists
FOUND_SHOWN = 50
MAX_QUERY = 100
MAX_REASON = 500


def _payer_bills(kind: str, payer_id: int):
    return (
        Bill.payer_user_id == payer_id if kind == PERSON else Bill.payer_organisation_id == payer_id
    )


def _visible_departments(request) -> frozenset[int] | None:
    return None if request.user.is_admin else frozenset(request.user.department_ids)


class PayerContext:
    """A person or an organisation as a payer: the clerks of the departments that billed
    them may look them up, and administrators."""

    def __init__(self, kind: str, payer: User | Organisation, departments: set[int]):
        self.kind = kind
        self.payer = payer
        self.departments = departments

    @property
    def __acl__(self):
        yield (Allow, ROLE_ADMIN, "work")
        for department in self.departments:
            yield (Allow, department_principal(department), "work")


def payer_factory(request) -> PayerContext:
    kind = request.matchdict["kind"]
    number = request.matchdict["id"]
    if kind not in (PERSON, ORGANISATION) or not (
        number.isascii() and number.isdigit() and len(number) <= 12
    ):
        raise HTTPNotFound()
    model = User if kind == PERSON else Organisation
    payer = request.dbsession.get(model, int(number))
    if payer is None:
        raise HTTPNotFound()
    departments = set(
        request.dbsession.scalars(
            select(Service.department_id)
            .join(Bill, Bill.service_id == Service.id)
            .where(_payer_bills(kind, payer.id))
            .distinct()
        )
    )
    return PayerContext(kind, payer, departments)


@dataclass(frozen=True)
class Found:
    kind: str
    id: int
    name: str
    detail: str | None


def _billed_in(kind: str, departments: frozenset[int] | None):
    """Payers (person or organisation ids) with at least one bill of ``departments``."""
    column = Bill.payer_user_id if kind == PERSON else Bill.payer_organisation_id
    query = select(column).where(column.is_not(None))
    if departments is not None:
        query = query.join(Service, Bill.service_id == Service.id).where(
            Service.department_id.in_(departments)
        )
    return query


def find_payers(request, text: str) -> list[Found]:
    """People and organisations whose name contains ``text``, or whose customer number,
    registration number or national identifier is exactly ``text``."""
    departments = _visible_departments(request)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    full_name = User.given_name + " " + User.family_name
    by_customer_number = select(UtilityAccount.payer_user_id).where(
        UtilityAccount.customer_number == text
    )
    people = request.dbsession.scalars(
        select(User)
        .where(
            User.id.in_(_billed_in(PERSON, departments)),
            or_(
                full_name.ilike(pattern, escape="\\"),
                User.national_id_hash == request.pii.lookup_hash(text),
                User.id.in_(by_customer_number),
            ),
        )
        .order_by(User.family_name, User.given_name, User.id)
        .limit(FOUND_SHOWN)
    )
    organisations = request.dbsession.scalars(
        select(Organisation)
        .where(
            Organisation.id.in_(_billed_in(ORGANISATION, departments)),
            or_(
                Organisation.name.ilike(pattern, escape="\\"),
                func.upper(Organisation.registration_number) == text.upper(),
            ),
        )
        .order_by(Organisation.name, Organisation.id)
        .limit(FOUND_SHOWN)
    )
    found = [
        Found(PERSON, user.id, user.display_name, masked(national_id_of(request, user)))
        for user in people
    ]
    found += [
        Found(ORGANISATION, organisation.id, organisation.name, organisation.registration_number)
        for organisation in organisations
    ]
    return found


@view_config(
    route_name="backoffice_payers",
    request_method="GET",
    renderer="backoffice/payers.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def search_form(request):
    return {"query": "", "found": None}


@view_config(
    route_name="backoffice_payers",
    request_method="POST",
    renderer="backoffice/payers.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def search(request):
    """The payers matching what the clerk typed; changes nothing (a POST only to keep the
    search out of URLs)."""
    text = request.POST.get("q", "").strip()
    if not text or len(text) > MAX_QUERY:
        refused = Refusal(
            INVALID, _("Enter a name, a customer number or a national identifier."), field="q"
        )
        return {"query": text[:MAX_QUERY], "found": None, "errors": form_refused(request, refused)}
    found = find_payers(request, text)
    log.info("payer search by user=%s found %d", request.user.id, len(found))
    return {"query": text, "found": found, "limit": FOUND_SHOWN}


def payer_values(request, context: PayerContext) -> dict:
    """The payer's bills of the clerk's departments, those bills' payments and their
    refunds, and the payer's cases in those departments' queues. A payment of bills of
    several departments is listed whole (as the payment's own page shows it to each of those
    departments' clerks)."""
    departments = _visible_departments(request)
    dbsession = request.dbsession
    bills_query = (
        select(Bill)
        .join(Service, Bill.service_id == Service.id)
        .where(_payer_bills(context.kind, context.payer.id))
        .options(selectinload(Bill.service))
        .order_by(Bill.due_date.desc(), Bill.id.desc())
    )
    if departments is not None:
        bills_query = bills_query.where(Service.department_id.in_(departments))
    bills = list(dbsession.scalars(bills_query))
    bill_ids = [bill.id for bill in bills]
    payments = list(
        dbsession.scalars(
            select(Payment)
            .where(
                Payment.id.in_(
                    select(PaymentAllocation.payment_id).where(
                        PaymentAllocation.bill_id.in_(bill_ids)
                    )
                )
            )
            .options(selectinload(Payment.allocations).selectinload(PaymentAllocation.bill))
            .order_by(Payment.created_at.desc(), Payment.id.desc())
        )
    )
    refunds = list(
        dbsession.scalars(
            select(Refund)
            .where(
                Refund.id.in_(select(RefundLine.refund_id).where(RefundLine.bill_id.in_(bill_ids)))
            )
            .options(selectinload(Refund.payment), selectinload(Refund.lines))
            .order_by(Refund.created_at.desc(), Refund.id.desc())
        )
    )
    about_payer = (
        Case.person_id == context.payer.id
        if context.kind == PERSON
        else Case.organisation_id == context.payer.id
    )
    kinds = case_kinds(request.registry)
    # a case whose party the clerks' pages do not name (a tender question: no one at the
    # buyer may learn who asks, so who bids) is not listed under its party either
    unnamed = [code for code, kind in kinds.items() if not kind.party_shown_to_clerks]
    cases_query = (
        select(Case)
        .where(about_payer, Case.kind.not_in(unnamed))
        .order_by(Case.opened_at.desc(), Case.id.desc())
    )
    if departments is not None:
        cases_query = cases_query.where(Case.department_id.in_(departments))
    translate = request.localizer.translate
    views = with_status(dbsession, bills)
    return {
        "kind": context.kind,
        "payer": context.payer,
        "cases": list(dbsession.scalars(cases_query)),
        "case_kind": lambda code: translate(kinds[code].label) if code in kinds else code,
        "case_state": lambda code: translate(case_state.LABELS[code]),
        "bills": views,
        "credits": _credits(dbsession, views),
        "payments": payments,
        "refunds": refunds,
        "bill_numbers": {bill.id: bill.number for bill in bills},
        "national_id": None,
        "revealed": False,
        "reason": "",
        "error": None,
    }


@dataclass(frozen=True)
class Credit:
    """What the payer paid beyond a bill's amount (their credit), and the payment whose
    page refunds it."""

    view: BillView
    amount: Money
    payment: Payment | None


def _credits(dbsession, views) -> list[Credit]:
    credits = []
    for view in views:
        if view.status == OVERPAID:
            settled = settling_payment(dbsession, view.bill.id)
            credits.append(Credit(view, -view.outstanding, settled[0] if settled else None))
    return credits


def _page(request, context: PayerContext, **values):
    page = payer_values(request, context)
    if isinstance(context.payer, User):
        national_id = national_id_of(request, context.payer)
        page["national_id"] = national_id if values.get("revealed") else masked(national_id)
    page.update(values)
    return render_to_response(
        "backoffice/payer.jinja2", page, request=request, response=request.response
    )


@view_config(
    route_name="backoffice_payer",
    request_method="GET",
    permission="work",
    assurance=CLERK,
)
def payer_page(context, request):
    return _page(request, context)


@view_config(
    route_name="backoffice_payer_national_id",
    request_method="POST",
    permission="work",
    assurance=CLERK,
)
def reveal_national_id(context, request):
    """The person's national identifier in full, asked for on purpose with a reason (a POST
    with CSRF, never a link a crawler or a prefetch could follow), and recorded."""
    if context.kind != PERSON:
        raise HTTPNotFound()
    reason = request.POST.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        refused = Refusal(
            INVALID,
            _("Say in at most 500 characters why you need the national identifier."),
            field="reason",
        )
        return _page(
            request, context, reason=reason[:MAX_REASON], errors=form_refused(request, refused)
        )
    record_request(
        request,
        "person.national_id_viewed",
        subject_id=context.payer.id,
        object=("user", context.payer.id),
        details={"page": "payer"},
        personal={"reason": reason},
    )
    log.info(
        "national identifier of payer user=%s shown to user=%s", context.payer.id, request.user.id
    )
    return _page(request, context, revealed=True, reason=reason)
