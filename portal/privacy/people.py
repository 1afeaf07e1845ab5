"""Making a person unidentifiable in the portal's own records, while the records the law keeps
(payments, refunds, receipts, the ledger, the audit trail) still point at the same account row.

The row stays, so every kept record keeps its foreign key; what identified the person in it
goes: their names and e-mail, the IdP's persistent identifier they signed in with (replaced by
a random one under an entity id no IdP has, so a later sign-in makes a new account), the
national identifier, their sign-in records and the
capacities the IdP gave them, and the personal details of the audit entries by or about them
(the entries stay, and the chain still verifies).
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import cast

from sqlalchemy import CursorResult, Delete, Update, delete, or_, select, update
from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.applications.state import DRAFT
from portal.audit import redact_person
from portal.billing import with_status
from portal.billing.models import ApprovalRequest, Bill, IdempotencyKey, Payment, Refund
from portal.identity.models import User, WebSession

#: the entity id of an account whose person was made unidentifiable
ERASED = "erased"


def is_erased(user: User) -> bool:
    return user.idp_entity_id == ERASED


def open_bills(dbsession: Session, user: User) -> list[Bill]:
    """Bills in ``user``'s name still to be paid: their national identifier is how a tax
    office's next import finds them, so it is kept until these are settled."""
    bills = list(dbsession.scalars(select(Bill).where(Bill.payer_user_id == user.id)))
    return [view.bill for view in with_status(dbsession, bills) if view.payable]


def anonymise(dbsession: Session, user: User) -> Counter[str]:
    """Remove what identifies ``user`` and is not needed for what the law keeps; returns what
    went, by kind. Callers first make sure no bill in their name is open (:func:`open_bills`):
    whoever owes it must stay identifiable, and able to sign in and pay it."""
    removed: Counter[str] = Counter()
    removed["sessions"] = deleted(
        dbsession, delete(WebSession).where(WebSession.user_id == user.id)
    )
    removed["sessions"] += deleted(
        dbsession, delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id)
    )
    drafts = dbsession.scalars(
        select(Application).where(Application.applicant_id == user.id, Application.status == DRAFT)
    ).all()
    for draft in drafts:
        dbsession.delete(draft)
    removed["application_drafts"] = len(drafts)
    if user.national_id_encrypted is not None:
        user.national_id_hash = None
        user.national_id_encrypted = None
        removed["national_ids"] = 1
    user.given_name = ""
    user.family_name = ""
    user.email = ""
    user.idp_entity_id = ERASED
    user.name_id = secrets.token_hex(16)
    user.last_login_at = None
    user.is_admin = False
    user.is_reviewer = False
    user.organisations = []
    user.departments = []
    user.buying_departments = []
    removed["profiles"] = 1
    removed["decision_notes"] = _decision_notes_about(dbsession, user)
    dbsession.flush()
    removed["audit_personal"] = redact_person(dbsession, user.id)
    return removed


def _decision_notes_about(dbsession: Session, user: User) -> int:
    """The clerks' free-text reasons about ``user``'s money: why their bills were written off,
    and the reasons and decision notes of the four-eyes approval requests about their bills
    (write-offs) and their payments' refunds (refunds, cancellations). The decisions stay."""
    bills = select(Bill.public_id).where(Bill.payer_user_id == user.id)
    refunds = (
        select(Refund.public_id)
        .join(Payment, Refund.payment_id == Payment.id)
        .where(Payment.payer_user_id == user.id)
    )
    count = changed(
        dbsession,
        update(Bill)
        .where(Bill.payer_user_id == user.id, Bill.write_off_reason.is_not(None))
        .values(write_off_reason=None),
    )
    return count + changed(
        dbsession,
        update(ApprovalRequest)
        .where(
            or_(ApprovalRequest.subject.in_(bills), ApprovalRequest.subject.in_(refunds)),
            or_(ApprovalRequest.reason != "", ApprovalRequest.decision_note.is_not(None)),
        )
        .values(reason="", decision_note=None),
    )


def deleted(dbsession: Session, statement: Delete) -> int:
    """How many rows ``statement`` deleted."""
    return cast(CursorResult, dbsession.execute(statement)).rowcount


def changed(dbsession: Session, statement: Update) -> int:
    """How many rows ``statement`` changed (the session's objects are not updated: callers
    expire them if they read them again)."""
    return cast(
        CursorResult,
        dbsession.execute(statement, execution_options={"synchronize_session": False}),
    ).rowcount
