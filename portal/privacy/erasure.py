"""An erasure request, processed by an administrator: what goes, what the law keeps and until
when, then the erasure itself.

The plan is worked out from the same records the erasure changes, so the page the
administrator confirms says exactly what happens. Kept records are kept whole (the ledger's
balances, receipts' signatures and the audit chain depend on them); the person is made
unidentifiable in the portal's own rows (:mod:`portal.privacy.people`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.applications.state import DRAFT
from portal.audit import record
from portal.audit.models import AuditEntry
from portal.billing.models import Bill, Payment, Refund
from portal.cases.models import Case
from portal.i18n import _
from portal.identity.models import User, WebSession
from portal.privacy import people
from portal.privacy.policy import APPLICATIONS, AUDIT, CASE_NOTES, PAYMENTS, RetentionPolicy
from portal.procurement.models import Bid, Complaint
from portal.receipts.models import Receipt
from portal.refusals import CONFLICT, FORBIDDEN, Refusal


@dataclass(frozen=True)
class Removed:
    what: str
    count: int


@dataclass(frozen=True)
class Kept:
    what: str
    count: int
    basis: str
    until: dt.datetime | None


@dataclass
class ErasurePlan:
    #: bills in the person's name still open: the erasure waits for them
    open_bills: int = 0
    removed: list[Removed] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


def check_erasable(dbsession: Session, user: User, administrator: User) -> None:
    """Whether ``administrator`` may erase ``user``'s data now. Not while a bill in their name
    is open: the law needs who owes it, and they must still be able to sign in and pay it."""
    if user.id == administrator.id:
        raise Refusal(
            FORBIDDEN,
            _("Another administrator processes an erasure request for your own data."),
        )
    if people.is_erased(user):
        raise Refusal(CONFLICT, _("This person's data has already been erased."))
    if people.open_bills(dbsession, user):
        raise Refusal(
            CONFLICT,
            _(
                "Bills in this person's name are still open: their data can be erased once "
                "the bills are paid or cancelled."
            ),
        )


def _latest(dbsession: Session, column, *where) -> dt.datetime | None:
    return dbsession.scalar(select(func.max(column)).where(*where))


def _count(dbsession: Session, model, *where) -> int:
    return dbsession.scalar(select(func.count()).select_from(model).where(*where)) or 0


def erasure_plan(
    dbsession: Session, user: User, policy: RetentionPolicy, now: dt.datetime
) -> ErasurePlan:
    """What erasing ``user``'s data at ``now`` removes, and what it keeps, why and until when."""
    plan = ErasurePlan(open_bills=len(people.open_bills(dbsession, user)))
    plan.removed.append(Removed(_("Name and e-mail address"), 1))
    plan.removed.append(Removed(_("The link to their account at the identity provider"), 1))
    if user.national_id_encrypted is not None:
        plan.removed.append(Removed(_("National identifier"), 1))
    plan.removed.append(
        Removed(_("Sessions"), _count(dbsession, WebSession, WebSession.user_id == user.id))
    )
    plan.removed.append(
        Removed(
            _("Applications never submitted"),
            _count(
                dbsession,
                Application,
                Application.applicant_id == user.id,
                Application.status == DRAFT,
            ),
        )
    )
    capacities = (
        (len(user.organisations) + len(user.departments) + len(user.buying_departments))
        + user.is_admin
        + user.is_reviewer
    )
    plan.removed.append(Removed(_("Roles and the organisations they acted for"), capacities))
    theirs = or_(AuditEntry.actor_id == user.id, AuditEntry.subject_id == user.id)
    plan.removed.append(
        Removed(
            _("Personal details in audit entries"),
            _count(dbsession, AuditEntry, theirs, AuditEntry.personal.is_not(None)),
        )
    )

    payments_period = policy[PAYMENTS]
    last_payment = _latest(dbsession, Payment.created_at, Payment.payer_user_id == user.id)
    payments = _count(dbsession, Payment, Payment.payer_user_id == user.id)
    if payments:
        plan.kept.append(
            Kept(
                _("Payments and refunds"),
                payments
                + _count(
                    dbsession,
                    Refund,
                    Refund.payment_id.in_(
                        select(Payment.id).where(Payment.payer_user_id == user.id)
                    ),
                ),
                _("Accounting and tax law: payment records are kept for the payments period."),
                payments_period.after(last_payment) if last_payment else None,
            )
        )
    receipts = _count(dbsession, Receipt, Receipt.owner_user_id == user.id)
    if receipts:
        last_receipt = _latest(dbsession, Receipt.issued_at, Receipt.owner_user_id == user.id)
        plan.kept.append(
            Kept(
                _("Receipts and credit notes"),
                receipts,
                _(
                    "Signed documents of the payments, kept whole with them: their signatures "
                    "and their verification codes keep working."
                ),
                payments_period.after(last_receipt) if last_receipt else None,
            )
        )
    bills = _count(dbsession, Bill, Bill.payer_user_id == user.id)
    if bills:
        last_bill = _latest(dbsession, Bill.issued_at, Bill.payer_user_id == user.id)
        plan.kept.append(
            Kept(
                _("Bills and their ledger entries"),
                bills,
                _(
                    "Accounting law: the ledger is never changed, its balances are the sums "
                    "of its entries."
                ),
                payments_period.after(max(filter(None, (last_bill, last_payment)))),
            )
        )
    applications = _count(
        dbsession, Application, Application.applicant_id == user.id, Application.status != DRAFT
    )
    if applications:
        last_change = _latest(
            dbsession,
            Application.updated_at,
            Application.applicant_id == user.id,
            Application.status != DRAFT,
        )
        plan.kept.append(
            Kept(
                _("Submitted applications"),
                applications,
                _(
                    "Administrative procedure: the answers of a decided application are kept "
                    "for the applications period after the decision, then redacted."
                ),
                policy[APPLICATIONS].after(last_change) if last_change else None,
            )
        )
    cases = _count(dbsession, Case, Case.person_id == user.id)
    if cases:
        open_cases = _count(dbsession, Case, Case.person_id == user.id, Case.ended_at.is_(None))
        last_end = _latest(dbsession, Case.ended_at, Case.person_id == user.id)
        plan.kept.append(
            Kept(
                _("Cases, their notes and attachments"),
                cases,
                _(
                    "Administrative procedure: a case's notes and attachments are kept for the "
                    "case notes period after it ends, then deleted."
                ),
                policy[CASE_NOTES].after(last_end) if last_end and not open_cases else None,
            )
        )
    tender_records = _count(dbsession, Bid, Bid.created_by_id == user.id) + _count(
        dbsession, Complaint, Complaint.filed_by_id == user.id
    )
    if tender_records:
        plan.kept.append(
            Kept(
                _("Bids and complaints filed for an organisation"),
                tender_records,
                _(
                    "Public procurement law: a tender's records are the organisation's and "
                    "are kept with the tender; they no longer name this person."
                ),
                None,
            )
        )
    entries = _count(dbsession, AuditEntry, theirs)
    if entries:
        last_entry = _latest(dbsession, AuditEntry.occurred_at, theirs)
        plan.kept.append(
            Kept(
                _("Audit entries"),
                entries,
                _(
                    "Accountability of the administration: the entries say what was done, "
                    "without the personal details, which are removed now."
                ),
                policy[AUDIT].after(last_entry) if last_entry else None,
            )
        )
    return plan


def erase(dbsession: Session, user: User, administrator: User) -> Counter[str]:
    """Carry the plan out, and record it in the audit trail: returns what was removed, by
    kind."""
    check_erasable(dbsession, user, administrator)
    removed = people.anonymise(dbsession, user)
    record(
        dbsession,
        "privacy.erased",
        actor_id=administrator.id,
        subject_id=user.id,
        object=("user", user.id),
        details={"removed": dict(sorted(removed.items()))},
    )
    return removed
