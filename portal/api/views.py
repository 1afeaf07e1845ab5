"""The API's views: services issue, read and cancel their bills; payers read their own.

Service views are called with a bearer key, not a browser, so CSRF does not apply to them
(``require_csrf=False``); the payer's views use the browser session and keep the default.
"""

from __future__ import annotations

import logging

from pyramid.view import forbidden_view_config, view_config
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from portal.api import SERVICE_ROUTES
from portal.api.validation import AssessmentRef, bill_request, cancel_request, json_object
from portal.billing import BillLineInput, cancel_bill, issue_bill, with_status
from portal.billing.models import Bill, Payment, PaymentAllocation
from portal.catalogue.interfaces import TAX, public_service
from portal.i18n import _
from portal.identity.models import Organisation, User
from portal.money import Money
from portal.refusals import CONFLICT, FORBIDDEN, INVALID, UNAUTHENTICATED, FieldError, Refusal
from portal.security import PUBLIC
from portal.services.assessments import add_instalment, assessment_for_instalment
from portal.web import refused

log = logging.getLogger(__name__)

#: how many of a payer's most recent bills or payments one answer holds
MY_LIST_LIMIT = 200


def _iso(value):
    return None if value is None else value.isoformat()


def _payer_json(bill: Bill) -> dict:
    """Who pays: an organisation by its registration number; a person by nothing personal."""
    if bill.payer_organisation is not None:
        return {
            "type": "organisation",
            "organisation_number": bill.payer_organisation.registration_number,
            "name": bill.payer_organisation.name,
        }
    return {"type": "person"}


def bill_json(view) -> dict:
    bill = view.bill
    return {
        "public_id": bill.public_id,
        "service": {
            "code": bill.service.code,
            "name": bill.service.name,
            "names": bill.service.name_translations,
        },
        "number": bill.number,
        "reference": bill.reference,
        "description": bill.description,
        "descriptions": bill.description_translations,
        "payer": _payer_json(bill),
        "currency": bill.currency,
        "total": bill.total_minor,
        "outstanding": view.outstanding.minor,
        "status": view.status,
        "due_date": bill.due_date.isoformat(),
        "issued_at": _iso(bill.issued_at),
        "cancelled_at": _iso(bill.cancelled_at),
        "cancel_reason": bill.cancel_reason,
        "lines": [
            {
                "description": line.description,
                "descriptions": line.description_translations,
                "amount": line.amount_minor,
            }
            for line in bill.lines
        ],
    }


def _one_bill_json(request, bill: Bill) -> dict:
    return bill_json(with_status(request.dbsession, [bill])[0])


@forbidden_view_config(path_info=r"^/api/")
def api_forbidden(exc, request):
    """401 when the credential the route needs is missing or invalid, 403 when it is valid
    but does not allow this."""
    route = request.matched_route.name if request.matched_route else None
    if route in SERVICE_ROUTES:
        if request.api_key is None:
            sent = "Authorization" in request.headers
            challenge = (
                'Bearer realm="portal", error="invalid_token"' if sent else 'Bearer realm="portal"'
            )
            return refused(
                Refusal(
                    UNAUTHENTICATED,
                    _("Send a valid API key of the service as: Authorization: Bearer <key>."),
                    title=_("API key required"),
                    headers={"WWW-Authenticate": challenge},
                ),
                request,
            )
    elif request.user is None:
        return refused(
            Refusal(UNAUTHENTICATED, _("Sign in to use this."), title=_("Sign-in required")),
            request,
        )
    log.warning("forbidden: %s", request.path_info)
    return refused(
        Refusal(FORBIDDEN, _("These credentials may not do this."), title=_("Not allowed")),
        request,
    )


@view_config(route_name="api_openapi", renderer="json", permission=PUBLIC)
def openapi(request):
    return request.registry["api_openapi"]


def _payer(request, kind: str, value: str) -> dict:
    """The person (by national identifier) or organisation a new bill is for."""
    if kind == "national_id":
        user = request.dbsession.scalar(
            select(User)
            .where(User.national_id_hash == request.pii.lookup_hash(value))
            .order_by(User.id)
            .limit(1)
        )
        if user is not None:
            return {"payer_user": user}
    else:
        organisation = request.dbsession.scalar(
            select(Organisation).where(Organisation.registration_number == value)
        )
        if organisation is not None:
            return {"payer_organisation": organisation}
    raise Refusal(
        INVALID,
        _("The portal knows no payer with this identifier."),
        title=_("Unknown payer"),
        errors=[FieldError(f"#/payer/{kind}", _("is not a known payer"))],
    )


def _duplicate(number: str) -> Refusal:
    return Refusal(
        CONFLICT,
        _("This service already has a bill ${number}.", mapping={"number": number}),
        title=_("Duplicate bill number"),
    )


def _assessment(request, service, ref: AssessmentRef | None):
    """The tax assessment the new bill is an instalment of, recorded by the same rule as an
    imported file's: a property assessed for a year already is refused (409) unless this is
    a correction of the assessment in force."""
    if ref is None:
        return None
    plugin = public_service(request.registry, service.code)
    if plugin is None or plugin.info.kind != TAX:
        raise Refusal(
            INVALID,
            _("Only a tax service's bills are instalments of an assessment."),
            title=_("Invalid request"),
            errors=[FieldError("#/assessment", _("is not taken by this service"))],
        )
    try:
        return assessment_for_instalment(
            request.dbsession,
            service,
            ref.number,
            ref.property_ref,
            ref.year,
            ref.corrects,
            now=request.clock.now(),
        )
    except Refusal as refused:
        raise Refusal(refused.kind, refused.message, title=_("Assessment refused")) from None


@view_config(
    route_name="api_bills",
    request_method="POST",
    renderer="json",
    permission="issue_bill",
    require_csrf=False,
)
def create_bill(context, request):
    new = bill_request(json_object(request))
    payer = _payer(request, new.payer_kind, new.payer_value)
    service = request.api_key.service
    dbsession = request.dbsession
    taken = select(Bill.id).where(Bill.service_id == service.id, Bill.number == new.number)
    if dbsession.scalar(taken) is not None:
        raise _duplicate(new.number)
    assessment = _assessment(request, service, new.assessment)
    try:
        with dbsession.begin_nested():
            bill = issue_bill(
                dbsession,
                service=service,
                number=new.number,
                description=new.description,
                description_translations=new.descriptions,
                due_date=new.due_date,
                lines=[
                    BillLineInput(description, Money(amount, new.currency), descriptions)
                    for description, amount, descriptions in new.lines
                ],
                **payer,
            )
    except IntegrityError:  # the same number issued meanwhile by a concurrent request
        raise _duplicate(new.number) from None
    if assessment is not None:
        add_instalment(dbsession, assessment, bill)
    log.info(
        "bill %s issued by service %s (key %s)",
        bill.public_id,
        service.code,
        request.api_key.prefix,
    )
    request.response.status_int = 201
    request.response.location = request.route_url("api_bill", public_id=bill.public_id)
    return _one_bill_json(request, bill)


@view_config(route_name="api_bill", request_method="GET", renderer="json", permission="read_bill")
def read_bill(context, request):
    return _one_bill_json(request, context.bill)


@view_config(
    route_name="api_bill_cancel",
    request_method="POST",
    renderer="json",
    permission="cancel_bill",
    require_csrf=False,
)
def cancel(context, request):
    reason = cancel_request(json_object(request))
    cancel_bill(request.dbsession, context.bill, reason, request.clock.now())
    log.info("bill %s cancelled by key %s", context.bill.public_id, request.api_key.prefix)
    return _one_bill_json(request, context.bill)


@view_config(
    route_name="api_bill_payments", request_method="GET", renderer="json", permission="read_bill"
)
def bill_payments(context, request):
    """What was paid, or is being paid, on this bill; the payer stays unnamed."""
    rows = request.dbsession.execute(
        select(Payment, PaymentAllocation)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.bill_id == context.bill.id)
        .order_by(Payment.created_at, Payment.id)
    )
    return {
        "bill": context.bill.public_id,
        "payments": [
            {
                "public_id": payment.public_id,
                "status": payment.status,
                "currency": payment.currency,
                "amount": allocation.amount_minor,
                "refunded": allocation.refunded_minor,
                "created_at": _iso(payment.created_at),
                "settled_at": _iso(payment.settled_at),
            }
            for payment, allocation in rows
        ],
    }


@view_config(route_name="api_my_bills", request_method="GET", renderer="json", permission="account")
def my_bills(request):
    """The signed-in person's bills and those of the organisations they represent."""
    user = request.user
    organisations = [organisation.id for organisation in user.organisations]
    bills = request.dbsession.scalars(
        select(Bill)
        .where(or_(Bill.payer_user_id == user.id, Bill.payer_organisation_id.in_(organisations)))
        .order_by(Bill.due_date.desc(), Bill.id.desc())
        .limit(MY_LIST_LIMIT)
    )
    return {"bills": [bill_json(view) for view in with_status(request.dbsession, list(bills))]}


@view_config(
    route_name="api_my_payments", request_method="GET", renderer="json", permission="account"
)
def my_payments(request):
    user = request.user
    organisations = [organisation.id for organisation in user.organisations]
    payments = request.dbsession.scalars(
        select(Payment)
        .where(
            or_(
                Payment.payer_user_id == user.id,
                Payment.payer_organisation_id.in_(organisations),
            )
        )
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(MY_LIST_LIMIT)
    )
    return {
        "payments": [
            {
                "public_id": payment.public_id,
                "status": payment.status,
                "currency": payment.currency,
                "amount": payment.amount_minor,
                "refunded": payment.refunded_minor,
                "method": payment.method,
                "created_at": _iso(payment.created_at),
                "settled_at": _iso(payment.settled_at),
                "bills": [
                    {
                        "public_id": allocation.bill.public_id,
                        "reference": allocation.bill.reference,
                        "amount": allocation.amount_minor,
                    }
                    for allocation in payment.allocations
                ],
            }
            for payment in payments
        ]
    }
