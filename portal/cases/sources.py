"""Where cases come from: the features' events, heard in the transaction that made the change.

Each kind below is opened by one event and ended by another (or closed by a clerk). To add a
kind: register a :class:`~portal.cases.kinds.CaseKind` in :func:`includeme`, subscribe a
handler to the feature's event that calls :func:`portal.cases.work.open_case` with a subject
(type and id), a title (written in each language), the department and the person or
organisation concerned, and one to the event of its decision that calls
:func:`portal.cases.work.decide_case_about`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from babel.dates import format_date
from pyramid.i18n import TranslationString
from sqlalchemy import select

from portal.applications import state as application_state
from portal.applications.events import ApplicationDecided, ApplicationQueued
from portal.billing.events import (
    ApprovalDecided,
    ApprovalRequested,
    BankLineDecided,
    BankLineUnmatched,
    PaymentNeedsAttention,
    SettlementDiscrepancyFound,
)
from portal.billing.models import ApprovalRequest, Payment
from portal.cases.kinds import CaseKind
from portal.cases.work import decide_case_about, open_case
from portal.clock import clock
from portal.db import registry_of
from portal.i18n import _
from portal.localized import SOURCE_LANGUAGE, localized, message_in
from portal.money import babel_locale
from portal.procurement.events import (
    ComplaintDecided,
    ComplaintRegistered,
    QuestionAnswered,
    QuestionAsked,
)
from portal.procurement.models import Question, Tender

APPLICATION = "application"
PAYMENT_ATTENTION = "payment_attention"
SETTLEMENT_DISCREPANCY = "settlement_discrepancy"
TENDER_QUESTION = "tender_question"
TENDER_COMPLAINT = "tender_complaint"
APPROVAL = "approval"
BANK_LINE = "bank_line"


def _now(dbsession):
    return clock(registry_of(dbsession)).now()


def _application_page(request, case) -> str:
    return request.route_path("backoffice_application", application=case.subject_id)


def _payment_page(request, case) -> str:
    return request.route_path("backoffice_payment", public_id=case.subject_id)


def _reconciliation_page(request, case) -> str:
    day = case.subject_id.split(":", 1)[0]
    return request.route_path("backoffice_reconciliation", _query={"date": day})


def _question_page(request, case) -> str | None:
    reference = request.dbsession.scalar(
        select(Tender.reference).join(Question).where(Question.public_id == case.subject_id)
    )
    if reference is None:
        return None
    return request.route_path("tender_answers", reference=reference)


def _complaint_page(request, case) -> str:
    return request.route_path("review_complaint", public_id=case.subject_id)


def _in(message: TranslationString) -> Callable[[str], str]:
    """A catalogue message as each language writes it: a title :func:`open_case` keeps in
    every language."""
    return partial(message_in, message=message)


def _approval_page(request, case) -> str:
    return request.route_path("backoffice_approval", approval=case.subject_id)


def _approval_requester(dbsession, case) -> frozenset[int]:
    """The clerk who asked: a second clerk must decide, so the case is not theirs to take."""
    requester = dbsession.scalar(
        select(ApprovalRequest.requested_by_id).where(ApprovalRequest.public_id == case.subject_id)
    )
    return frozenset() if requester is None else frozenset({requester})


def _bank_line_page(request, case) -> str:
    return request.route_path("backoffice_bank_line", line=case.subject_id)


KINDS = (
    CaseKind(
        APPLICATION,
        _("Application to decide"),
        default_service_level="16h",
        decision_link=_application_page,
    ),
    CaseKind(
        PAYMENT_ATTENTION,
        _("Payment needing attention"),
        default_service_level="8h",
        decision_link=_payment_page,
        closed_by_clerk=True,
    ),
    CaseKind(
        SETTLEMENT_DISCREPANCY,
        _("Reconciliation mismatch"),
        default_service_level="16h",
        decision_link=_reconciliation_page,
        closed_by_clerk=True,
    ),
    CaseKind(
        TENDER_QUESTION,
        _("Tender question to answer"),
        default_service_level="8h",
        decision_link=_question_page,
        party_shown_to_clerks=False,
    ),
    CaseKind(
        TENDER_COMPLAINT,
        _("Complaint against an award"),
        default_service_level="5d",
        decision_link=_complaint_page,
    ),
    CaseKind(
        APPROVAL,
        _("Request awaiting a second clerk's approval"),
        default_service_level="8h",
        decision_link=_approval_page,
        barred=_approval_requester,
    ),
    CaseKind(
        BANK_LINE,
        _("Bank credit to assign"),
        default_service_level="16h",
        decision_link=_bank_line_page,
    ),
)


def application_queued(event: ApplicationQueued) -> None:
    application, dbsession = event.application, event.dbsession
    open_case(
        dbsession,
        APPLICATION,
        subject_type="application",
        subject_id=application.public_id,
        title=partial(localized, application.service, "name"),
        department_id=application.service.department_id,
        person_id=application.applicant_id,
        now=_now(dbsession),
    )


def application_decided(event: ApplicationDecided) -> None:
    application = event.application
    outcome = {
        application_state.APPROVED: "approved",
        application_state.REJECTED: "rejected",
        application_state.CANCELLED: "cancelled",
    }[application.status]
    decide_case_about(
        event.dbsession,
        "application",
        application.public_id,
        outcome,
        _now(event.dbsession),
        actor=application.decided_by,
    )


def payment_needs_attention(event: PaymentNeedsAttention) -> None:
    payment, dbsession = event.payment, event.dbsession
    first = min(payment.allocations, key=lambda allocation: allocation.bill_id, default=None)
    open_case(
        dbsession,
        PAYMENT_ATTENTION,
        subject_type="payment",
        subject_id=payment.public_id,
        title=_in(_("Payment ${reference}", mapping={"reference": payment.public_id[:8]})),
        department_id=first.bill.service.department_id if first is not None else None,
        person_id=payment.payer_user_id,
        organisation_id=payment.payer_organisation_id,
        now=_now(dbsession),
        note=payment.needs_attention or "",
    )


def settlement_discrepancy(event: SettlementDiscrepancyFound) -> None:
    found, dbsession = event.discrepancy, event.dbsession
    department_id = None
    if found.payment_public_id is not None:
        payment = dbsession.scalar(
            select(Payment).where(Payment.public_id == found.payment_public_id)
        )
        if payment is not None and payment.allocations:
            first = min(payment.allocations, key=lambda allocation: allocation.bill_id)
            department_id = first.bill.service.department_id
    open_case(
        dbsession,
        SETTLEMENT_DISCREPANCY,
        subject_type="settlement",
        subject_id=f"{event.day.isoformat()}:{found.what}:{found.reference}"[:64],
        title=_in(_discrepancy_title(found)),
        department_id=department_id,
        now=_now(dbsession),
        note=_amounts(found),
    )


def _written(detail: str) -> str:
    """A discrepancy's detail (a message) written out in English, as a case's internal note
    keeps it."""
    return message_in(SOURCE_LANGUAGE, detail)


def _discrepancy_title(found) -> TranslationString:
    """What the reconciliation found about which payment or refund (its only two kinds of
    record), the finding a message of its own."""
    mapping = {"reference": found.reference, "detail": found.detail}
    if found.what == "refund":
        return _("Refund ${reference}: ${detail}", mapping=mapping)
    return _("Payment ${reference}: ${detail}", mapping=mapping)


def _amounts(found) -> str:
    amounts = [
        f"{side} {amount}"
        for side, amount in (("provider", found.provider_amount), ("portal", found.portal_amount))
        if amount is not None
    ]
    detail = _written(found.detail)
    return f"{detail} ({', '.join(amounts)})" if amounts else detail


def question_asked(event: QuestionAsked) -> None:
    question, dbsession = event.question, event.dbsession
    open_case(
        dbsession,
        TENDER_QUESTION,
        subject_type="question",
        subject_id=question.public_id,
        title=_in(_("Tender ${reference}", mapping={"reference": question.tender.reference})),
        department_id=question.tender.department_id,
        person_id=question.asked_by_id,
        organisation_id=question.organisation_id,
        now=_now(dbsession),
    )


def question_answered(event: QuestionAnswered) -> None:
    question = event.question
    decide_case_about(
        event.dbsession, "question", question.public_id, "answered", _now(event.dbsession)
    )


def complaint_registered(event: ComplaintRegistered) -> None:
    complaint, dbsession = event.complaint, event.dbsession
    open_case(
        dbsession,
        TENDER_COMPLAINT,
        subject_type="complaint",
        subject_id=complaint.public_id,
        title=_in(_("Tender ${reference}", mapping={"reference": complaint.tender.reference})),
        department_id=complaint.tender.department_id,
        person_id=complaint.filed_by_id,
        organisation_id=complaint.organisation_id,
        now=_now(dbsession),
    )


def complaint_decided(event: ComplaintDecided) -> None:
    complaint = event.complaint
    decide_case_about(
        event.dbsession,
        "complaint",
        complaint.public_id,
        complaint.status,
        _now(event.dbsession),
        actor=complaint.decided_by,
    )


def approval_requested(event: ApprovalRequested) -> None:
    """A refund, write-off or cancellation above the threshold waits for a second clerk of its
    department: work for the queue (the office's own control, so no person follows it)."""
    approval, dbsession = event.approval, event.dbsession
    open_case(
        dbsession,
        APPROVAL,
        subject_type="approval",
        subject_id=approval.public_id,
        title=partial(localized, approval, "description"),
        department_id=approval.department_id,
        now=_now(dbsession),
    )


def approval_decided(event: ApprovalDecided) -> None:
    """The request was decided, or withdrawn by the clerk who asked (then theirs is the act
    that ended the case)."""
    approval = event.approval
    decide_case_about(
        event.dbsession,
        "approval",
        approval.public_id,
        approval.status,
        _now(event.dbsession),
        actor=approval.decided_by or approval.requested_by,
    )


def bank_line_unmatched(event: BankLineUnmatched) -> None:
    """A bank credit matched no bill, or several: a clerk of the statement's department
    assigns it or returns it (the payer's name stays on the line's page)."""
    line, dbsession = event.line, event.dbsession
    open_case(
        dbsession,
        BANK_LINE,
        subject_type="bank_line",
        subject_id=line.public_id,
        title=partial(_bank_credit_title, line),
        department_id=line.department_id,
        now=_now(dbsession),
    )


def _bank_credit_title(line, locale: str) -> str:
    """The credit's amount and day as a reader of ``locale`` writes them."""
    return message_in(
        locale,
        _(
            "${amount} received on ${day}",
            mapping={
                "amount": line.amount.format(locale),
                "day": format_date(line.booked_on, "medium", locale=babel_locale(locale)),
            },
        ),
    )


def bank_line_decided(event: BankLineDecided) -> None:
    line = event.line
    decide_case_about(
        event.dbsession,
        "bank_line",
        line.public_id,
        line.status,
        _now(event.dbsession),
        actor=event.actor,
    )


def includeme(config) -> None:
    for kind in KINDS:
        config.add_case_kind(kind)
    config.add_subscriber(application_queued, ApplicationQueued)
    config.add_subscriber(application_decided, ApplicationDecided)
    config.add_subscriber(payment_needs_attention, PaymentNeedsAttention)
    config.add_subscriber(settlement_discrepancy, SettlementDiscrepancyFound)
    config.add_subscriber(question_asked, QuestionAsked)
    config.add_subscriber(question_answered, QuestionAnswered)
    config.add_subscriber(complaint_registered, ComplaintRegistered)
    config.add_subscriber(complaint_decided, ComplaintDecided)
    config.add_subscriber(approval_requested, ApprovalRequested)
    config.add_subscriber(approval_decided, ApprovalDecided)
    config.add_subscriber(bank_line_unmatched, BankLineUnmatched)
    config.add_subscriber(bank_line_decided, BankLineDecided)
