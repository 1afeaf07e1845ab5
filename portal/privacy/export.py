"""Everything the portal holds about a person, for them to download (their right of access).

One function gathers it, reached through each feature's models, so the JSON download and the
readable page say the same. Only rows that are this person's are read: bills in their name,
payments they made (for themselves or for an organisation they represent), the refunds and
receipts of those payments, their applications, the bids and complaints they filed, the cases
about them (with the notes marked public, never the clerks' internal ones), their sign-in
records. An organisation's own bills and bids are the organisation's, not the
person's: they are named (which organisations the person acts for) but not copied.
A sealed bid stays sealed: only what its submission receipt says (when, its SHA-256) is given,
never its price or content, which the bidder's organisation sees on the bid's page after the
opening.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.billing import REFUND_NOT_APPROVED, with_status
from portal.billing.models import Bill, Payment, Refund
from portal.cases.models import Case, CaseNote
from portal.identity.models import User, WebSession
from portal.identity.pii import PersonalDataVault
from portal.localized import localized
from portal.money import Money
from portal.procurement.models import Bid, BidVersion, Complaint
from portal.receipts.models import Receipt
from portal.services.models import UtilityAccount

#: the version of the export's layout, for whoever reads it with a program
FORMAT = 1


def _when(moment: dt.datetime | dt.date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _money(amount: Money) -> dict[str, Any]:
    return {"minor_units": amount.minor, "currency": amount.currency}


def personal_data(
    dbsession: Session,
    user: User,
    vault: PersonalDataVault,
    now: dt.datetime,
    locale: str | None = None,
) -> dict[str, Any]:
    """``user``'s data as JSON-ready values (strings, integers, lists, objects); the names
    of services, the bills' descriptions and the cases' titles in ``locale``
    (:mod:`portal.localized`)."""
    payments = dbsession.scalars(
        select(Payment).where(Payment.payer_user_id == user.id).order_by(Payment.id)
    ).all()
    payment_ids = [payment.id for payment in payments]
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "person": _person(user, vault),
        "organisations": [
            {"name": organisation.name, "registration_number": organisation.registration_number}
            for organisation in user.organisations
        ],
        "bills": _bills(dbsession, user, locale),
        "payments": [_payment(payment) for payment in payments],
        "refunds": _refunds(dbsession, payment_ids),
        "receipts": _receipts(dbsession, user),
        "applications": _applications(dbsession, user, locale),
        "bids": _bids(dbsession, user),
        "complaints": _complaints(dbsession, user),
        "cases": _cases(dbsession, user, locale),
        "utility_accounts": [
            {
                "service": localized(account.service, "name", locale),
                "customer_number": account.customer_number,
            }
            for account in dbsession.scalars(
                select(UtilityAccount)
                .where(UtilityAccount.payer_user_id == user.id)
                .order_by(UtilityAccount.id)
            )
        ],
        "sign_in": {
            "last_sign_in": _when(user.last_login_at),
            "sessions": [
                {"started": _when(session.created_at), "last_used": _when(session.last_seen_at)}
                for session in dbsession.scalars(
                    select(WebSession)
                    .where(WebSession.user_id == user.id)
                    .order_by(WebSession.created_at)
                )
            ],
        },
    }


def _person(user: User, vault: PersonalDataVault) -> dict[str, Any]:
    national_id = vault.decrypt(user.national_id_encrypted) if user.national_id_encrypted else None
    roles = [f"clerk of {department.name}" for department in user.departments]
    roles += [f"buyer for {department.name}" for department in user.buying_departments]
    roles += ["administrator"] * user.is_admin + ["complaints reviewer"] * user.is_reviewer
    return {
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "national_identifier": national_id,
        "identity_provider": user.idp_entity_id,
        "identifier_at_identity_provider": user.name_id,
        "document_language": user.locale,
        "account_created": _when(user.created_at),
        "roles": roles,
    }


def _bills(dbsession: Session, user: User, locale: str | None) -> list[dict[str, Any]]:
    bills = list(
        dbsession.scalars(select(Bill).where(Bill.payer_user_id == user.id).order_by(Bill.id))
    )
    return [
        {
            "number": view.bill.number,
            "service": localized(view.bill.service, "name", locale),
            "description": localized(view.bill, "description", locale),
            "total": _money(view.bill.total),
            "outstanding": _money(view.outstanding),
            "status": view.status,
            "due_date": _when(view.bill.due_date),
            "issued_at": _when(view.bill.issued_at),
            "cancelled_at": _when(view.bill.cancelled_at),
        }
        for view in with_status(dbsession, bills)
    ]


def _payment(payment: Payment) -> dict[str, Any]:
    return {
        "reference": payment.public_id,
        "status": payment.status,
        "amount": _money(payment.amount),
        "method": payment.method,
        "created_at": _when(payment.created_at),
        "settled_at": _when(payment.settled_at),
        "for_organisation": payment.payer_organisation.name if payment.payer_organisation else None,
        "bills": [allocation.bill.number for allocation in payment.allocations],
    }


def _refunds(dbsession: Session, payment_ids: list[int]) -> list[dict[str, Any]]:
    """The refunds of the person's payments, as their refund receipts tell them. One a second
    clerk has not approved (waiting, or refused) is left out: its reason is the clerks'
    internal note, which the payer's pages never show either."""
    refunds = dbsession.scalars(
        select(Refund)
        .where(Refund.payment_id.in_(payment_ids), Refund.status.not_in(REFUND_NOT_APPROVED))
        .order_by(Refund.id)
    )
    return [
        {
            "reference": refund.public_id,
            "payment": refund.payment.public_id,
            "amount": _money(refund.amount),
            "status": refund.status,
            "reason": refund.reason,
            "requested_at": _when(refund.created_at),
        }
        for refund in refunds
    ]


def _receipts(dbsession: Session, user: User) -> list[dict[str, Any]]:
    receipts = dbsession.scalars(
        select(Receipt).where(Receipt.owner_user_id == user.id).order_by(Receipt.id)
    )
    return [
        {
            "kind": receipt.kind,
            "number": receipt.number,
            "issued_at": _when(receipt.issued_at),
            "amount": _money(receipt.amount) if receipt.amount_minor is not None else None,
            "verification_code": receipt.verification_code,
            "download": f"/receipts/{receipt.number}.pdf",
        }
        for receipt in receipts
    ]


def _applications(dbsession: Session, user: User, locale: str | None) -> list[dict[str, Any]]:
    applications = dbsession.scalars(
        select(Application).where(Application.applicant_id == user.id).order_by(Application.id)
    )
    return [
        {
            "reference": application.public_id,
            "service": localized(application.service, "name", locale),
            "status": application.status,
            "answers": application.form,
            "created_at": _when(application.created_at),
            "submitted_at": _when(application.submitted_at),
            "decision_reason": application.decision_reason,
            "history": [
                {"status": event.to_status, "at": _when(event.at), "note": event.note}
                for event in application.events
            ],
        }
        for application in applications
    ]


def _bids(dbsession: Session, user: User) -> list[dict[str, Any]]:
    """Bids this person prepared or submitted, with what their submission receipts say."""
    bids = dbsession.scalars(
        select(Bid)
        .where(
            or_(
                Bid.created_by_id == user.id,
                Bid.id.in_(select(BidVersion.bid_id).where(BidVersion.submitted_by_id == user.id)),
            )
        )
        .order_by(Bid.id)
    )
    return [
        {
            "tender": bid.tender.reference,
            "tender_title": bid.tender.title,
            "for_organisation": bid.organisation.name,
            "status": bid.status,
            "prepared_by_you": bid.created_by_id == user.id,
            "created_at": _when(bid.created_at),
            "submissions": [
                {
                    "number": version.number,
                    "status": version.status,
                    "submitted_at": _when(version.submitted_at),
                    "submitted_by_you": version.submitted_by_id == user.id,
                    "sealed_sha256": version.sha256,
                }
                for version in bid.versions
            ],
        }
        for bid in bids
    ]


def _cases(dbsession: Session, user: User, locale: str | None) -> list[dict[str, Any]]:
    """Cases about this person, with the notes marked public (the clerks' internal notes are
    not shown to the person, here as on the case's page)."""
    cases = dbsession.scalars(select(Case).where(Case.person_id == user.id).order_by(Case.id))
    return [
        {
            "reference": case.public_id,
            "kind": case.kind,
            "title": localized(case, "title", locale),
            "state": case.state,
            "opened_at": _when(case.opened_at),
            "ended_at": _when(case.ended_at),
            "outcome": case.outcome,
            "notes": [
                {"text": note.text, "at": _when(note.at)}
                for note in dbsession.scalars(
                    select(CaseNote)
                    .where(CaseNote.case_id == case.id, CaseNote.public.is_(True))
                    .order_by(CaseNote.id)
                )
            ],
        }
        for case in cases
    ]


def _complaints(dbsession: Session, user: User) -> list[dict[str, Any]]:
    complaints = dbsession.scalars(
        select(Complaint).where(Complaint.filed_by_id == user.id).order_by(Complaint.id)
    )
    return [
        {
            "reference": complaint.public_id,
            "tender": complaint.tender.reference,
            "for_organisation": complaint.organisation.name,
            "status": complaint.status,
            "text": complaint.text,
            "filed_at": _when(complaint.filed_at),
            "decided_at": _when(complaint.decided_at),
            "decision_reason": complaint.decision_reason,
        }
        for complaint in complaints
    ]
