"""Complaints against an award: filed during the standstill, registered once the fee is paid,
decided by a reviewer.

awaiting_payment (filed: text and documents kept, the fee billed to the organisation, due on
the standstill's last day) -> registered (the fee paid: :func:`register_paid`, in the
payment's own transaction) -> upheld (the fee refunded, the award withdrawn, the tender back
to evaluation) or rejected (the fee kept). A complaint still unpaid when the standstill ends
lapses and its bill is cancelled (:func:`lapse_unpaid`, run by :func:`lapse_complaints`),
unless a payment of it is under way: that one is waited for, and the next run looks again.
While a complaint is awaiting payment or registered the standstill holds
(:func:`portal.procurement.state.standstill_over`): no contract before it is decided.

Only a representative of an organisation whose bid is valid and is not the winner may file.
Each step mails the organisation's representatives once it has committed
(:mod:`portal.procurement.complaint_mail`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import or_, select

from portal.billing import refund_bill
from portal.billing.events import PaymentSucceeded, RefundSucceeded
from portal.billing.models import RefundLine
from portal.clock import clock
from portal.db import registry_of
from portal.i18n import _, pgettext
from portal.procurement import award as awards
from portal.procurement import complaint_billing, complaint_mail, events, files, state
from portal.procurement.bids import bid_of
from portal.procurement.models import (
    AWARD_ACTIVE,
    AWARD_CANCELLED,
    COMPLAINT_AWAITING_PAYMENT,
    COMPLAINT_LAPSED,
    COMPLAINT_REGISTERED,
    COMPLAINT_REJECTED,
    COMPLAINT_UPHELD,
    MAX_REASON,
    OPEN_COMPLAINTS,
    Award,
    Complaint,
    ComplaintDocument,
    Tender,
)
from portal.procurement.prices import valid_bids
from portal.refusals import CONFLICT, FORBIDDEN, INVALID, FieldError, Refusal
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)

LABELS = {
    COMPLAINT_AWAITING_PAYMENT: _("Awaiting payment of the fee"),
    COMPLAINT_REGISTERED: _("Registered, awaiting the reviewer's decision"),
    COMPLAINT_UPHELD: pgettext("complaint state", "Upheld"),
    COMPLAINT_REJECTED: pgettext("complaint state", "Rejected"),
    COMPLAINT_LAPSED: _("Lapsed: the fee was not paid in time"),
}
#: the longest complaint text, in characters (the reviewer's reason is a MAX_REASON)
MAX_TEXT = 20_000
MAX_DOCUMENTS = 10
UPHELD = "upheld"
REJECTED = "rejected"


def may_complain(dbsession, tender: Tender, organisation, now: dt.datetime) -> Award:
    """The award ``organisation`` may complain about on ``tender`` at ``now``; a refusal
    unless the standstill runs and the organisation's bid is valid and not the winner."""
    award = state.active_award(dbsession, tender)
    if tender.status != state.STANDSTILL or award is None or now >= award.standstill_until:
        raise Refusal(
            CONFLICT,
            _("A complaint can be filed only during the standstill period after an award."),
            about=tender,
        )
    bid = bid_of(dbsession, tender, organisation)
    if bid is None or bid.id not in {valid.bid.id for valid in valid_bids(dbsession, tender)}:
        raise Refusal(
            FORBIDDEN,
            _("Only an organisation with a valid bid on this tender may complain about its award."),
            about=tender,
        )
    if bid.id == award.bid_id:
        raise Refusal(
            FORBIDDEN, _("The winning bidder cannot complain about its own award."), about=tender
        )
    open_already = dbsession.scalar(
        select(Complaint.id).where(
            Complaint.award_id == award.id,
            Complaint.organisation_id == organisation.id,
            Complaint.status.in_(OPEN_COMPLAINTS),
        )
    )
    if open_already is not None:
        raise Refusal(
            CONFLICT,
            _("Your organisation already has a complaint open against this award."),
            about=tender,
        )
    return award


def read_text(value: object, field: str, missing, limit: int = MAX_TEXT) -> str:
    """A complaint's text or a decision's reason as typed: required, at most ``limit``."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Refusal(INVALID, _("Some answers need fixing."), errors=[FieldError(field, missing)])
    if len(text) > limit:
        too_long = _("Keep this under ${limit} characters.", mapping={"limit": limit})
        raise Refusal(INVALID, _("Some answers need fixing."), errors=[FieldError(field, too_long)])
    return text


def file_complaint(
    dbsession,
    tender: Tender,
    organisation,
    *,
    user,
    text: str,
    uploads: Sequence[files.Upload],
    now: dt.datetime,
    timezone,
) -> Complaint:
    """File ``organisation``'s complaint against ``tender``'s award and bill its fee (the
    price in force on today's local date). The tender is locked first, so a complaint and
    the standstill's end, or two clicks, are taken one at a time."""
    dbsession.refresh(tender, with_for_update=True)
    award = may_complain(dbsession, tender, organisation, now)
    if len(uploads) > MAX_DOCUMENTS:
        too_many = _("Attach at most 10 documents.")
        raise Refusal(
            INVALID, _("Some answers need fixing."), errors=[FieldError("documents", too_many)]
        )
    fee = complaint_billing.complaint_fee(dbsession, now.astimezone(timezone).date())
    bid = bid_of(dbsession, tender, organisation)
    assert bid is not None  # may_complain found it
    complaint = Complaint(
        tender=tender,
        award=award,
        bid=bid,
        organisation=organisation,
        filed_by=user,
        text=text,
        filed_at=now,
    )
    dbsession.add(complaint)
    dbsession.flush()
    stored = files.store_many(dbsession, uploads, now)
    for upload in uploads:
        complaint.documents.append(
            ComplaintDocument(file=stored[upload.sha256], filename=upload.filename)
        )
    due = award.standstill_until.astimezone(timezone).date()
    complaint_billing.bill_complaint(dbsession, complaint, fee, due)
    complaint_mail.mail_after_commit(dbsession, complaint_mail.FILED, complaint)
    log.info("complaint %s filed on tender %s", complaint.public_id, tender.reference)
    return complaint


def open_to_payment(award: Award, now: dt.datetime) -> bool:
    """May a complaint against ``award`` still be registered by paying its fee at ``now``?
    Only while the award stands and its standstill runs."""
    return award.status == AWARD_ACTIVE and now < award.standstill_until


def register_paid(event: PaymentSucceeded) -> None:
    """Register the complaints whose fee ``event``'s payment settled, in the payment's own
    transaction: however it was settled, the complaint reaches the reviewers with it. A fee
    settling once the award is no longer open to complaints (the standstill over, the award
    withdrawn or the tender cancelled) registers nothing: the fee is refunded and the
    complaint lapses, so no complaint enters the review after its time."""
    dbsession, payment = event.dbsession, event.payment
    fees = [
        a.bill
        for a in payment.allocations
        if a.bill.service.code == complaint_billing.COMPLAINT_FEE.info.code
    ]
    if not fees:  # no complaint fee among them (billing loads bills and services with it)
        return
    bill_ids = [bill.id for bill in fees]
    waiting = dbsession.scalars(
        select(Complaint)
        .where(Complaint.fee_bill_id.in_(bill_ids), Complaint.status == COMPLAINT_AWAITING_PAYMENT)
        .with_for_update()
    ).all()
    now = clock(registry_of(dbsession)).now()
    for complaint in waiting:
        if not complaint_billing.fee_paid(dbsession, complaint):
            continue
        dbsession.refresh(complaint.award)
        if open_to_payment(complaint.award, now):
            complaint.status = COMPLAINT_REGISTERED
            complaint.registered_at = now
            complaint_mail.mail_after_commit(dbsession, complaint_mail.REGISTERED, complaint)
            events.announce(events.ComplaintRegistered(complaint, dbsession))
            log.info("complaint %s registered: its fee is paid", complaint.public_id)
            continue
        assert complaint.fee_bill is not None  # fee_paid found it
        complaint.status = COMPLAINT_LAPSED
        refund_bill(dbsession, complaint.fee_bill, "Complaint lapsed: fee paid too late")
        complaint_mail.mail_after_commit(dbsession, complaint_mail.PAID_LATE, complaint)
        log.info("complaint %s lapsed: its fee was paid too late, refunded", complaint.public_id)
    dbsession.flush()


def close_refunded(event: RefundSucceeded) -> None:
    """Cancel the fee bill of an upheld complaint, or of one that lapsed because its fee was
    paid too late, once its refund is confirmed: a refund makes a bill owed again, and this
    fee is not owed, so the organisation's account and the fee's revenue both end at zero."""
    dbsession, refund = event.dbsession, event.refund
    bill_ids = select(RefundLine.bill_id).where(RefundLine.refund_id == refund.id)
    refunded = dbsession.scalars(
        select(Complaint).where(
            Complaint.fee_bill_id.in_(bill_ids),
            Complaint.status.in_((COMPLAINT_UPHELD, COMPLAINT_LAPSED)),
        )
    ).all()
    now = clock(registry_of(dbsession)).now()
    for complaint in refunded:
        reason = (
            "Complaint upheld: fee refunded"
            if complaint.status == COMPLAINT_UPHELD
            else "Complaint lapsed: fee paid too late, refunded"
        )
        complaint_billing.cancel_fee(dbsession, complaint, reason, now)


def decide(
    dbsession, complaint: Complaint, *, outcome: str, reason: str, reviewer, now: dt.datetime
) -> Complaint:
    """The reviewer's decision on a registered complaint. Upheld: the fee is refunded through
    the billing core and the award withdrawn (the tender goes back to evaluation, unless an
    earlier upheld complaint withdrew it already). Rejected: the fee is kept. The complaint
    is locked, so a complaint is decided once: a second decision is refused."""
    if outcome not in (UPHELD, REJECTED):
        choose = _("Choose whether the complaint is upheld or rejected.")
        raise Refusal(
            INVALID, _("Some answers need fixing."), errors=[FieldError("outcome", choose)]
        )
    reason = read_text(reason, "reason", _("Give the reason for the decision."), MAX_REASON)
    dbsession.refresh(complaint, with_for_update=True)
    if complaint.status != COMPLAINT_REGISTERED:
        raise Refusal(
            CONFLICT,
            _("Only a registered complaint that is not decided yet can be decided."),
            about=complaint,
        )
    complaint.decided_at = now
    complaint.decided_by_id = reviewer.id
    complaint.decision_reason = reason
    if outcome == UPHELD:
        complaint.status = COMPLAINT_UPHELD
        assert complaint.fee_bill is not None  # registered: its fee was billed and paid
        refund_bill(dbsession, complaint.fee_bill, f"Complaint upheld: {reason}", reviewer)
        if complaint.award.status == AWARD_ACTIVE:
            awards.withdraw_award(
                dbsession,
                complaint.tender,
                reason=f"Complaint upheld: {reason}",
                now=now,
                actor=reviewer,
                requalify=True,
            )
        what = complaint_mail.UPHELD
    else:
        complaint.status = COMPLAINT_REJECTED
        what = complaint_mail.REJECTED
    dbsession.flush()
    events.announce(events.ComplaintDecided(complaint, dbsession))
    complaint_mail.mail_after_commit(dbsession, what, complaint)
    log.info("complaint %s %s", complaint.public_id, complaint.status)
    return complaint


def _award_over(now: dt.datetime):
    """The award complained about no longer stands open to complaints: its standstill has
    ended, or it was cancelled (by another complaint upheld, a refusal, the tender's
    cancellation), so an unpaid complaint against it has nothing left to register for."""
    return or_(Award.standstill_until <= now, Award.status == AWARD_CANCELLED)


def lapse_unpaid(dbsession, tender: Tender, now: dt.datetime) -> list[Complaint]:
    """Lapse ``tender``'s complaints still unpaid once their award's standstill has ended or
    the award was cancelled, cancelling their fee bills; one whose payment is under way is
    left for the next run. The complaints are locked and looked at again under the lock: a
    payment committing meanwhile (it locks them too, in :func:`register_paid`) has either
    registered its complaint, or has its paid bill seen here, and is never cancelled."""
    dbsession.refresh(tender, with_for_update=True)
    unpaid = dbsession.scalars(
        select(Complaint)
        .join(Award, Complaint.award_id == Award.id)
        .where(
            Complaint.tender_id == tender.id,
            Complaint.status == COMPLAINT_AWAITING_PAYMENT,
            _award_over(now),
        )
        .order_by(Complaint.id)
        .with_for_update(of=Complaint)
        .execution_options(populate_existing=True)
    ).all()
    lapsed = []
    for complaint in unpaid:
        if complaint.status != COMPLAINT_AWAITING_PAYMENT:
            continue
        if complaint_billing.fee_paid(dbsession, complaint) or complaint_billing.being_paid(
            dbsession, complaint
        ):
            continue
        complaint_billing.cancel_fee(
            dbsession, complaint, "Complaint lapsed: fee not paid in the standstill", now
        )
        complaint.status = COMPLAINT_LAPSED
        complaint_mail.mail_after_commit(dbsession, complaint_mail.LAPSED, complaint)
        lapsed.append(complaint)
    dbsession.flush()
    return lapsed


def tenders_with_unpaid_complaints(dbsession, now: dt.datetime) -> list[int]:
    return list(
        dbsession.scalars(
            select(Complaint.tender_id)
            .join(Award, Complaint.award_id == Award.id)
            .where(Complaint.status == COMPLAINT_AWAITING_PAYMENT, _award_over(now))
            .distinct()
            .order_by(Complaint.tender_id)
        )
    )


def lapse_for_tender(registry: Registry, tender_id: int) -> int:
    """Lapse one tender's unpaid complaints and move it on by the clock, in its own
    transaction; how many lapsed."""
    with task_dbsession(registry) as dbsession:
        tender = dbsession.get_one(Tender, tender_id)
        now = clock(registry).now()
        count = len(lapse_unpaid(dbsession, tender, now))
        state.advance(dbsession, tender, now)
        reference = tender.reference
    if count:
        log.info("tender %s: %d unpaid complaints lapsed", reference, count)
    return count


@periodic_task(crontab(minute="*"))
def lapse_complaints(registry: Registry) -> int:
    """Every minute: lapse the complaints whose standstill ended unpaid, each tender in its
    own transaction; returns how many lapsed."""
    with task_dbsession(registry) as dbsession:
        ids = tenders_with_unpaid_complaints(dbsession, clock(registry).now())
    lapsed = 0
    for tender_id in ids:
        try:
            lapsed += lapse_for_tender(registry, tender_id)
        except Exception:
            log.exception("tender %d: lapsing complaints failed; next run again", tender_id)
    return lapsed


def includeme(config) -> None:
    config.include("portal.procurement.complaint_billing")
    config.add_subscriber(register_paid, PaymentSucceeded)
    config.add_subscriber(close_refunded, RefundSucceeded)
