"""Preparing and publishing a tender: the buyer's side of the lifecycle.

A draft is the buyer's to change freely. Publishing checks that the tender is complete, makes
the tender's key (its private half split at once among the committee, see
:mod:`portal.procurement.sealing`), records version 1 and opens the questions period.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from portal.documents.numbering import DocumentNumberer, fiscal_year
from portal.i18n import _
from portal.procurement import state
from portal.procurement.bid_billing import close_charges
from portal.procurement.bids import lock_tender
from portal.procurement.deposit_movements import release_all
from portal.procurement.models import (
    AUCTION_CANCELLED,
    AUCTION_SCHEDULED,
    AWARD_CANCELLED,
    BEST_VALUE,
    CommitteeKey,
    Tender,
    TenderVersion,
    WaitingShare,
)
from portal.procurement.ocds.snapshots import published_snapshot
from portal.procurement.sealing import CommitteeMember, create_tender_key
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

#: the series of tender references: T-2027-000012
TENDER_SERIES = "T"


def new_tender(
    dbsession, *, department, actor, title: str, now: dt.datetime, timezone: ZoneInfo
) -> Tender:
    """A draft tender of ``department`` with the next reference of the year (local time)."""
    year = fiscal_year(now, timezone)
    number = DocumentNumberer(dbsession).next(TENDER_SERIES, year)
    tender = Tender(
        reference=f"{TENDER_SERIES}-{year}-{number:06d}",
        department=department,
        title=title,
        status=state.DRAFT,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    dbsession.add(tender)
    dbsession.flush()
    return tender


def publication_problems(dbsession, tender: Tender, now: dt.datetime) -> list[FieldError]:
    """What stops ``tender`` from being published at ``now``; empty when it can be."""
    problems = []
    if not tender.items:
        problems.append(FieldError("items", _("Add at least one item to buy.")))
    if tender.questions_until is None or tender.bids_until is None or tender.opening_at is None:
        problems.append(
            FieldError("periods", _("Set the questions period, the deadline and the opening time."))
        )
    elif not now < tender.questions_until <= tender.bids_until <= tender.opening_at:
        problems.append(
            FieldError(
                "periods",
                _(
                    "The questions period must end in the future, no later than the deadline, "
                    "and the opening may not be before the deadline."
                ),
            )
        )
    if tender.award_criterion == BEST_VALUE and sum(c.weight for c in tender.criteria) != 100:
        problems.append(FieldError("criteria", _("The criteria's weights must sum to 100.")))
    members = [seat.member for seat in tender.committee]
    if not 2 <= tender.committee_threshold <= len(members):
        problems.append(
            FieldError(
                "committee",
                _(
                    "Name at least two committee members, and a threshold from 2 up to "
                    "their number."
                ),
            )
        )
    without_key = [m for m in members if committee_key_of(dbsession, m) is None]
    if without_key:
        names = ", ".join(m.display_name for m in without_key)
        problems.append(
            FieldError(
                "committee",
                _(
                    "These committee members have not set up their committee key yet: ${names}",
                    mapping={"names": names},
                ),
            )
        )
    return problems


def committee_key_of(dbsession, user) -> CommitteeKey | None:
    """``user``'s committee key, if they have set it up."""
    return dbsession.scalar(select(CommitteeKey).where(CommitteeKey.user_id == user.id))


def publish(dbsession, tender: Tender, *, actor, now: dt.datetime) -> None:
    """Publish ``tender``: make its key, give each committee member their encrypted share,
    record version 1 and open the questions period. Refused while anything is missing.

    The tender's row is locked and read afresh first: of two clicks on "Publish" at once, the
    second waits, finds the tender published and is refused (409)."""
    dbsession.flush()
    dbsession.refresh(tender, with_for_update=True)
    if tender.status != state.DRAFT:
        raise Refusal(CONFLICT, _("This tender is published already."), about=tender)
    problems = publication_problems(dbsession, tender, now)
    if problems:
        raise Refusal(
            INVALID, _("The tender cannot be published yet."), errors=problems, about=tender
        )
    keys = {seat.member_id: committee_key_of(dbsession, seat.member) for seat in tender.committee}
    members = [
        CommitteeMember(str(member_id), key.public_key)
        for member_id, key in keys.items()
        if key is not None
    ]
    key = create_tender_key(tender.reference, members, tender.committee_threshold)
    shares = {share.member_id: share.blob for share in key.shares}
    for seat in tender.committee:
        seat.encrypted_share = shares[str(seat.member_id)]
    tender.public_key = key.public_key
    tender.version = 1
    tender.published_at = now
    dbsession.add(
        TenderVersion(
            tender=tender,
            number=1,
            at=now,
            actor_id=actor.id,
            reason="",
            snapshot_json=published_snapshot(tender),
        )
    )
    state.transition(dbsession, tender, state.QUESTIONS, now=now, actor=actor, cause="published")


#: a tender may be cancelled from publication until it reaches an end (after its opening too)
CANCELLABLE = frozenset(
    {
        state.QUESTIONS,
        state.BIDDING,
        state.AWAITING_OPENING,
        state.OPENED,
        state.AUCTION,
        state.EVALUATION,
        state.STANDSTILL,
        state.CONTRACTING,
    }
)


def cancel_tender(dbsession, tender: Tender, *, actor, reason: str, now: dt.datetime) -> list:
    """Cancel ``tender`` (published, not at an end) for ``reason``: record the transition and
    settle the bids' money. Before the opening every bid security lodged and still held is
    given back and the fee and deposit bills not yet paid are cancelled (a fee paid stays
    paid: it bought the tender documents' review, as with any fee); a bill being paid right
    now is left to the periodic job (:mod:`portal.procurement.deadline`). After the opening
    an award in force is cancelled with the tender and every security still held is given
    back (:func:`~portal.procurement.deposit_movements.release_all`). A deposit that cannot
    be given back (released meanwhile by a withdrawal, or not lodged by one payment) is logged
    and the cancellation goes on. Shares unlocked for an opening that will not happen are
    erased. The tender's row is locked first, so a contract recorded at the same moment
    either comes first (and the cancellation is refused) or finds it cancelled. Returns the
    bids, whose bidders the caller tells after commit."""
    lock_tender(dbsession, tender)
    dbsession.execute(delete(WaitingShare).where(WaitingShare.tender_id == tender.id))
    if tender.status not in CANCELLABLE:
        raise Refusal(
            CONFLICT,
            _("Only a published tender not yet at its end can be cancelled."),
            about=tender,
        )
    if not reason.strip():
        raise Refusal(
            INVALID,
            _("Say why the tender is cancelled."),
            errors=[FieldError("reason", _("Say why the tender is cancelled."))],
        )
    award = state.active_award(dbsession, tender)
    if not state.transition(
        dbsession, tender, state.CANCELLED, now=now, actor=actor, cause=f"cancelled: {reason}"
    ):
        raise Refusal(CONFLICT, _("The tender changed meanwhile. Reload it."), about=tender)
    why = f"Tender {tender.reference} cancelled"
    if award is not None:
        award.status = AWARD_CANCELLED
        award.cancelled_at = now
        award.cancel_reason = f"{why}: {reason}"[:2000]
    if tender.auction is not None and tender.auction.status == AUCTION_SCHEDULED:
        tender.auction.status = AUCTION_CANCELLED  # its slots will never run
    bids = list(tender.bids)
    if state.bids_opened(tender):
        release_all(dbsession, tender, why, now, actor)
    else:
        for bid in bids:
            close_charges(dbsession, bid, why, now, actor)
    dbsession.flush()
    return bids
