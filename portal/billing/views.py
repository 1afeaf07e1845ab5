"""The payer's pages: my bills, paying one or several, the result, the payment history."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import uuid

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import bindparam, or_, select

from portal.billing import payment_timeout, state, surcharges
from portal.billing.bills import OVERPAID, STATUSES, BillView, status_condition, with_status
from portal.billing.models import Bill, Payment, PaymentAllocation, Refund
from portal.billing.payment_documents import documents_of
from portal.billing.payments import (
    cancel_unstarted,
    create_payment,
    lock_rows,
    start_payment,
)
from portal.billing.providers import (
    PaymentLine,
    ProviderRefused,
    ProviderUnavailable,
    payment_providers,
)
from portal.billing.review import payer_names, review_rows
from portal.billing.tasks import ask_provider_soon
from portal.catalogue.models import Service
from portal.dates import query_day
from portal.db import Prebuilt, one_of
from portal.i18n import _
from portal.identity.assurance import PAY
from portal.localized import localized, pick
from portal.money import Money
from portal.refusals import CONFLICT, MALFORMED, NOT_FOUND, UNAVAILABLE, FieldError, Refusal
from portal.web import form_refused, query_page

log = logging.getLogger(__name__)

#: how many of a payer's most recent bills the page considers
BILLS_SHOWN = 200
PAYMENTS_PER_PAGE = 50
#: payments that ended without taking money: "Try again" makes a new one of the same bills
NOT_PAID = frozenset({state.FAILED, state.CANCELLED, state.EXPIRED})


def _payers(request):
    """The payers this person may act for: themself, then each organisation they represent."""
    person = request.person
    payers = [("user", person.id, person.display_name)]
    if person.organisation_ids:  # their names: from the ORM user's organisations
        payers += [
            ("organisation", organisation.id, organisation.name)
            for organisation in request.user.organisations
        ]
    return payers


def _bills_of(request, kind: str, payer_id: int, status: str, service: str) -> list[BillView]:
    """The payer's bills with ``status`` (or all), filtered in SQL so that an old open bill is
    never pushed out by newer paid ones. Bills to pay come soonest due first, others newest
    first."""
    query = _bills_query(kind, status, bool(service))
    params = {"payer_id": payer_id, "service": service}
    bills = list(request.dbsession.scalars(query, params))
    return with_status(request.dbsession, bills)


@functools.cache
def _bills_query(kind: str, status: str, by_service: bool):
    """The statement of :func:`_bills_of`, built once for each way the page asks (payer kind,
    status, filtered by a service or not), its values as bind parameters: building it, status
    condition and all, cost a sixth of a 'My bills' page with 20 bills (issue 13)."""
    column = Bill.payer_user_id if kind == "user" else Bill.payer_organisation_id
    query = select(Bill).where(column == bindparam("payer_id"))
    if status != "all":
        query = query.where(status_condition(status))
    if by_service:
        query = query.join(Service, Bill.service_id == Service.id).where(
            Service.code == bindparam("service")
        )
    if status == "unpaid":
        query = query.order_by(Bill.due_date, Bill.id)
    else:
        query = query.order_by(Bill.due_date.desc(), Bill.id.desc())
    return query.limit(BILLS_SHOWN)


@view_config(route_name="bills", renderer="billing/bills.jinja2", permission="account")
def bills(request):
    status = request.GET.get("status", "unpaid")
    if status not in (*STATUSES, "unpaid", "all"):
        status = "unpaid"
    service = request.GET.get("service", "")
    groups = [
        {"kind": kind, "name": name, "bills": _bills_of(request, kind, payer_id, status, service)}
        for kind, payer_id, name in _payers(request)
    ]
    payable = [view.bill for group in groups for view in group["bills"] if view.payable]
    locale = request.localizer.locale_name
    rows = list(request.dbsession.scalars(select(Service)))
    names = {found.id: localized(found, "name", locale) for found in rows}
    services = sorted(rows, key=lambda found: names[found.id].casefold())
    today = request.clock.today()
    return {
        "groups": groups,
        "today": today,
        "surcharges": surcharges.preview(request, payable, today),
        "status": status,
        "service": service,
        "services": services,
        # each row names its service from here rather than through the ORM's lazy loader
        "service_names": names,
        "idempotency_key": new_idempotency_key(),
        "errors": {},
    }


def new_idempotency_key() -> str:
    """A key for one rendered payment form: submitting that form again gives the same payment."""
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


@view_config(
    route_name="pay",
    request_method="POST",
    renderer="billing/bills.jinja2",
    permission="account",
    assurance=PAY,
)
def pay(request):
    """Create the payment of the chosen bills (nothing is sent to the provider yet), then show
    the payer what they are about to pay; with none chosen, the bills again, saying so."""
    public_ids = request.POST.getall("bill")
    if request.POST.get("only"):
        public_ids = [request.POST["only"]]
    public_ids = [value for value in public_ids if isinstance(value, str) and len(value) == 32][:60]
    if not public_ids:
        error = FieldError("bill", _("Choose at least one bill to pay."))
        refused = Refusal(MALFORMED, error.message, errors=[error])
        return {**bills(request), "errors": form_refused(request, refused)}
    key = request.headers.get("Idempotency-Key") or request.POST.get("idempotency_key", "")
    # locked as they are read, in the order create_payment locks bills (it need not again)
    dbsession = request.dbsession
    chosen = list(dbsession.scalars(_LOCK_BILLS_BY_PUBLIC_ID(dbsession), {"ids": public_ids}))
    if len(chosen) != len(set(public_ids)):
        raise Refusal(
            NOT_FOUND,
            _("One of these bills does not exist."),
            title=_("The payment cannot go ahead"),
        )
    return _pay_bills(request, chosen, key, locked=True)


_LOCK_BILLS_BY_PUBLIC_ID = Prebuilt(
    lambda dialect: lock_rows(
        select(Bill).where(one_of(Bill.public_id, "ids", dialect)).order_by(Bill.id)
    )
)


def _pay_bills(request, bills: list[Bill], key: str, locked: bool = False):
    """The payment of ``bills`` keyed on ``key``, and the way to its review page
    (``locked``: ``bills`` were locked and read in this transaction)."""
    try:
        # What accrued on them (late interest) is billed now and paid in the same payment.
        bills = surcharges.issue(request, bills, request.clock.today())
        payment = create_payment(
            request.dbsession,
            # the person as the identity query read them: the payment needs only their id
            user=request.person,
            bill_ids=[bill.id for bill in bills],
            idempotency_key=key,
            provider=request.payment_provider.name,
            organisation=_paying_organisation(request, bills),
            timeout=payment_timeout(request.registry.settings),
            now=request.clock.now(),
            locked=locked,
        )
    except Refusal as refused:
        log.warning("payment refused: %s", refused.message.interpolate())
        raise _payment_refusal(request, refused) from None
    return HTTPSeeOther(request.route_url("payment_checkout", public_id=payment.public_id))


def _paying_organisation(request, bills):
    """Bills of an organisation are paid by one of its representatives, for it."""
    organisations = {bill.payer_organisation_id for bill in bills}
    if organisations == {None}:
        return None
    mine = {organisation.id: organisation for organisation in request.user.organisations}
    if len(organisations) == 1 and next(iter(organisations)) in mine:
        return mine[next(iter(organisations))]
    raise Refusal(MALFORMED, _("Pay your own bills and each organisation's bills separately."))


def _payment_refusal(request, refused: Refusal) -> Refusal:
    """The refusal as the payer sees it: the way on to the payment it is about (one already
    in progress, say), if it is this person's."""
    payment = refused.about if isinstance(refused.about, Payment) else None
    if payment is None or payment.payer_user_id != request.person.id:
        return Refusal(refused.kind, refused.message, title=_("The payment cannot go ahead"))
    url = request.route_path("payment", public_id=payment.public_id)
    return Refusal(
        refused.kind,
        refused.message,
        title=_("The payment cannot go ahead"),
        way_on=(url, request.localizer.translate(_("See that payment"))),
        about=payment,
        headers={"Link": f'<{url}>; rel="related"'},
    )


@view_config(
    route_name="payment_checkout",
    request_method="GET",
    renderer="billing/review.jinja2",
    permission="pay",
    assurance=PAY,
)
def review(context, request):
    """What the payer is about to pay, and the button that opens the provider's page. Reading
    it changes nothing; a payment no longer waiting to be paid shows its outcome instead."""
    payment = context.payment
    if payment.status not in state.IN_PROGRESS:
        return HTTPSeeOther(request.route_url("payment", public_id=payment.public_id))
    person, organisation = payer_names(request.dbsession, payment)
    return {
        "payment": payment,
        "rows": review_rows(request, payment),
        "today": request.clock.today(),
        "person": person,
        "organisation": organisation,
        # a choice only when there is one to make
        "providers": _provider_choice(request, payment),
    }


@view_config(route_name="payment_checkout", request_method="POST", permission="pay", assurance=PAY)
def checkout(context, request):
    """Open the provider's hosted page. Repeating it, or sending it twice at once, is
    harmless: the first request opens the page, the others are sent to the same page."""
    payment = context.payment
    settings = request.registry.settings
    base = settings.get("billing.notify_base_url") or settings["portal.base_url"]
    provider = _chosen_provider(request, payment)
    try:
        url = start_payment(
            payment,
            provider,
            description=request.localizer.translate(_("Payment to the public services")),
            return_url=request.route_url("payment_return", public_id=payment.public_id),
            notify_url=base.rstrip("/")
            + request.route_path("provider_notification", provider=provider.name),
            now=request.clock.now(),
            locked=context.locked,
            lines=_payment_lines(request, payment) if provider.itemised else (),
            locale=request.localizer.locale_name,
        )
    except Refusal as refused:
        log.info(
            "checkout of payment %s refused: %s", payment.public_id, refused.message.interpolate()
        )
        return HTTPSeeOther(request.route_url("payment", public_id=payment.public_id))
    except ProviderUnavailable:
        log.warning("provider unavailable for payment %s", payment.public_id)
        raise Refusal(
            UNAVAILABLE,
            _("The payment provider cannot be reached. Nothing was charged. Try again shortly."),
        ) from None
    except ProviderRefused as refused:
        log.error("provider refused payment %s: %s", payment.public_id, refused)
        raise Refusal(
            UNAVAILABLE, _("The payment provider refused this payment. Nothing was charged.")
        ) from None
    return HTTPSeeOther(url)


def _provider_choice(request, payment: Payment) -> list[tuple[str, str]]:
    """(name, label) of each provider the payer may choose, when there is a choice to make."""
    providers = payment_providers(request.registry)
    if payment.status != state.CREATED or len(providers) < 2:
        return []
    return [(name, request.localizer.translate(p.label)) for name, p in providers.items()]


def _chosen_provider(request, payment: Payment):
    """The provider the payer chose on the review page when several are offered, else the
    one the payment was created with (the default)."""
    providers = payment_providers(request.registry)
    chosen = request.POST.get("provider") or payment.provider
    if chosen not in providers:
        log.warning("checkout of payment %s: no provider %r", payment.public_id, chosen[:40])
        raise Refusal(MALFORMED, _("Choose one of the ways to pay offered."))
    return providers[chosen]


def _payment_lines(request, payment: Payment) -> list[PaymentLine]:
    """Each bill of ``payment`` as the provider's page lists it: number, what it is for, and
    what this payment pays of it."""
    rows = request.dbsession.execute(
        select(
            Bill.number,
            Bill.description,
            Bill.description_translations,
            PaymentAllocation.amount_minor,
        )
        .join(PaymentAllocation, PaymentAllocation.bill_id == Bill.id)
        .where(PaymentAllocation.payment_id == payment.id)
        .order_by(Bill.id)
    )
    locale = request.localizer.locale_name
    return [
        PaymentLine(
            f"{number}: {pick(locale, description, translations)}"[:250],
            Money(minor, payment.currency),
        )
        for number, description, translations, minor in rows
    ]


@view_config(route_name="payment_cancel", request_method="POST", permission="pay")
def cancel(context, request):
    """The payer changed their mind on the review page: the payment, never sent to the
    provider, is cancelled so that its bills can be chosen again at once."""
    payment = context.payment
    if cancel_unstarted(payment, request.clock.now()):
        log.info("payment %s cancelled before paying", payment.public_id)
        request.session.flash(
            request.localizer.translate(_("The payment was cancelled. Nothing was charged."))
        )
        return HTTPSeeOther(request.route_url("bills"))
    return HTTPSeeOther(request.route_url("payment", public_id=payment.public_id))


@view_config(route_name="payment_retry", request_method="POST", permission="pay", assurance=PAY)
def retry(context, request):
    """A new payment of the same bills after one that did not go through (a refused card):
    the bills still to pay, with any late interest accrued since, reviewed again."""
    payment = context.payment
    if payment.status not in NOT_PAID:
        return HTTPSeeOther(request.route_url("payment", public_id=payment.public_id))
    bills = [allocation.bill for allocation in payment.allocations]
    bills = [view.bill for view in with_status(request.dbsession, bills) if view.payable]
    if not bills:
        raise _payment_refusal(
            request,
            Refusal(CONFLICT, _("These bills have nothing left to pay."), about=payment),
        )
    return _pay_bills(request, bills, request.POST.get("idempotency_key", ""))


@view_config(route_name="payment_return", permission="view")
def payment_return(context, request):
    """The payer's browser back from the provider: proves nothing, changes nothing."""
    return HTTPSeeOther(request.route_url("payment", public_id=context.payment.public_id))


@view_config(route_name="payment", renderer="billing/payment.jinja2", permission="view")
def payment_page(context, request):
    """The payment's outcome as the database has it; while the provider has it, queues a
    question to the provider (the job applies the answer) and offers to check again (a page
    that reloaded itself would fail WCAG 2.2.1)."""
    payment = context.payment
    if payment.status == state.STARTED:
        ask_provider_soon(request, payment)
    bills = [allocation.bill for allocation in payment.allocations]
    # the refunds as the payer follows them: a second clerk's internals left out
    refunds = list(
        request.dbsession.scalars(
            select(Refund)
            .where(
                Refund.payment_id == payment.id,
                Refund.status.not_in(list(state.REFUND_NOT_APPROVED)),
            )
            .order_by(Refund.id)
        )
    )
    refunded = [r.amount_minor for r in refunds if r.status == state.REFUND_SUCCEEDED]
    return {
        "refunds": refunds,
        "credits": [
            view for view in with_status(request.dbsession, bills) if view.status == OVERPAID
        ],
        "documents": documents_of(request, [payment.id]).get(payment.id, []),
        "payment": payment,
        "bills": bills,
        "pending": payment.status in state.IN_PROGRESS,
        "succeeded": payment.status in state.SETTLED,
        "refunded": Money(sum(refunded), payment.currency),
        "may_pay": bool(request.has_permission("pay", context)),
        "idempotency_key": new_idempotency_key(),
    }


def _my_payments(request):
    user = request.user
    organisations = [organisation.id for organisation in user.organisations]
    query = select(Payment).where(
        or_(Payment.payer_user_id == user.id, Payment.payer_organisation_id.in_(organisations))
    )
    status = request.GET.get("status", "")
    if status in state.TRANSITIONS:
        query = query.where(Payment.status == status)
    for name, compare in (("from", Payment.created_at.__ge__), ("to", Payment.created_at.__lt__)):
        day = query_day(request, name)
        if day is not None:
            if name == "to":
                day += dt.timedelta(days=1)
            query = query.where(compare(_start_of(request, day)))
    return query.order_by(Payment.created_at.desc(), Payment.id.desc())


def _start_of(request, day: dt.date) -> dt.datetime:
    """When ``day`` begins in the portal's time zone, the zone the history shows its times in:
    a payment made at 00:30 on the 3rd, local time, is one of the 3rd's, not the 2nd's."""
    return dt.datetime.combine(day, dt.time(), request.clock.timezone).astimezone(dt.UTC)


def _filters(request) -> dict[str, str]:
    """The filters in force, as the CSV link carries them (days as YYYY-MM-DD)."""
    days = {name: query_day(request, name) for name in ("from", "to")}
    return {
        "status": request.GET.get("status", ""),
        **{name: day.isoformat() if day else "" for name, day in days.items()},
    }


@view_config(route_name="payments", renderer="billing/payments.jinja2", permission="account")
def payments(request):
    page = query_page(request)
    rows = list(
        request.dbsession.scalars(
            _my_payments(request)
            .offset((page - 1) * PAYMENTS_PER_PAGE)
            .limit(PAYMENTS_PER_PAGE + 1)
        )
    )
    shown = rows[:PAYMENTS_PER_PAGE]
    return {
        "payments": shown,
        "documents": documents_of(request, [p.id for p in shown]),
        "page": page,
        "more": len(rows) > PAYMENTS_PER_PAGE,
        "statuses": list(state.TRANSITIONS),
        "filters": _filters(request),
    }


@view_config(route_name="payments_csv", permission="account")
def payments_csv(request):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["payment", "created_utc", "status", "amount", "currency", "method", "bills"])
    for payment in request.dbsession.scalars(_my_payments(request).limit(10_000)):
        bills = request.dbsession.scalars(
            select(Bill.reference)
            .join(PaymentAllocation)
            .where(PaymentAllocation.payment_id == payment.id)
        )
        writer.writerow(
            [
                payment.public_id,
                payment.created_at.isoformat(),
                payment.status,
                str(payment.amount.decimal()),
                payment.currency,
                payment.method or "",
                " ".join(reference or "" for reference in bills),
            ]
        )
    return Response(
        out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        content_disposition='attachment; filename="payments.csv"',
    )
