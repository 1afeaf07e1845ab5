"""The tender lifecycle: the one place that says which changes of status are allowed.

draft -> questions (published; bidders may ask and prepare bids) -> bidding (questions closed,
bids still accepted) -> awaiting_opening (the deadline passed) -> opened (the committee
opened the bids) -> auction (a reverse e-auction, when the tender declares one and at least two
bids are valid) -> evaluation (scores, ranking, qualification of the best-ranked bid, then the
next) -> standstill (awarded; complaints may be filed) -> contracting (the standstill ended
with no open complaint) -> complete (the contract is recorded). An upheld complaint sends a
standstill back to evaluation, and so does a winner's refusal to sign a contracting tender.
A tender with no bid left to award is unsuccessful; a tender may be cancelled until it is
complete. The clock moves a published tender on (:func:`advance`, run by a periodic job and
again by every request that reads a tender), so a late job can never let a late bid in: the
deadline itself is also checked by :func:`accepts_bids` against the request's own clock.

Every change is a :class:`~portal.procurement.models.TenderTransition` with its time, actor
(None for the clock) and cause.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit import record
from portal.i18n import _, pgettext
from portal.procurement.models import (
    AUCTION_SCHEDULED,
    AWARD_ACTIVE,
    OPEN_COMPLAINTS,
    Award,
    Complaint,
    Tender,
    TenderTransition,
)

DRAFT = "draft"
QUESTIONS = "questions"
BIDDING = "bidding"
AWAITING_OPENING = "awaiting_opening"
OPENED = "opened"
AUCTION = "auction"
EVALUATION = "evaluation"
STANDSTILL = "standstill"
CONTRACTING = "contracting"
COMPLETE = "complete"
UNSUCCESSFUL = "unsuccessful"
CANCELLED = "cancelled"

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({QUESTIONS, CANCELLED}),
    QUESTIONS: frozenset({BIDDING, CANCELLED}),
    BIDDING: frozenset({AWAITING_OPENING, CANCELLED}),
    AWAITING_OPENING: frozenset({OPENED, CANCELLED}),
    OPENED: frozenset({AUCTION, EVALUATION, CANCELLED}),
    AUCTION: frozenset({EVALUATION, CANCELLED}),
    EVALUATION: frozenset({STANDSTILL, UNSUCCESSFUL, CANCELLED}),
    STANDSTILL: frozenset({CONTRACTING, EVALUATION, CANCELLED}),
    CONTRACTING: frozenset({COMPLETE, EVALUATION, CANCELLED}),
    COMPLETE: frozenset(),
    UNSUCCESSFUL: frozenset(),
    CANCELLED: frozenset(),
}

LABELS = {
    DRAFT: _("Draft"),
    QUESTIONS: _("Open for questions and bids"),
    BIDDING: _("Open for bids"),
    AWAITING_OPENING: _("Closed, awaiting opening"),
    OPENED: pgettext("tender state", "Opened"),
    AUCTION: _("Electronic auction"),
    EVALUATION: _("Evaluation"),
    STANDSTILL: _("Awarded, standstill period"),
    CONTRACTING: _("Awaiting the contract"),
    COMPLETE: _("Complete"),
    UNSUCCESSFUL: _("Unsuccessful"),
    CANCELLED: pgettext("tender state", "Cancelled"),
}

#: the changes of status audited, under the name of what was done (the clock's moves between
#: the phases of a published tender are not: they follow from the published deadlines)
AUDITED = {
    QUESTIONS: "tender.published",
    OPENED: "tender.bids_opened",
    EVALUATION: "tender.evaluation",
    STANDSTILL: "tender.awarded",
    COMPLETE: "tender.contract_recorded",
    UNSUCCESSFUL: "tender.unsuccessful",
    CANCELLED: "tender.cancelled",
}

#: published: anyone may read it
PUBLISHED = frozenset(
    {
        QUESTIONS,
        BIDDING,
        AWAITING_OPENING,
        OPENED,
        AUCTION,
        EVALUATION,
        STANDSTILL,
        CONTRACTING,
        COMPLETE,
        UNSUCCESSFUL,
        CANCELLED,
    }
)
#: the bids are open: their prices are public and the committee and buyers read them
AFTER_OPENING = frozenset(
    {OPENED, AUCTION, EVALUATION, STANDSTILL, CONTRACTING, COMPLETE, UNSUCCESSFUL}
)
#: no more changes: the deposits still held are all given back
FINAL = frozenset({COMPLETE, UNSUCCESSFUL, CANCELLED})
#: bids may be submitted, replaced and withdrawn (before the deadline, see accepts_bids)
OPEN_FOR_BIDS = frozenset({QUESTIONS, BIDDING})
#: the buyer may still amend or cancel it
AMENDABLE = frozenset({QUESTIONS, BIDDING})


class IllegalTransition(RuntimeError):
    def __init__(self, tender: Tender, to_status: str):
        super().__init__(
            f"tender {tender.reference}: {tender.status} -> {to_status} is not allowed"
        )
        self.from_status = tender.status
        self.to_status = to_status


def bids_opened(tender: Tender) -> bool:
    """Have the committee opened the bids? From then on their prices are public, whatever
    happens to the tender later (a cancellation included)."""
    return tender.opened_at is not None


def prices_public(tender: Tender) -> bool:
    """May anyone see which organisation offered which price (the opened bids, the opening
    protocol)? From the opening on, except while the tender's auction is yet to finish:
    the auction shows its bidders as "Bidder A, B, C" with their prices, which would name
    them if the opened prices were public beside the organisations. The committee and the
    buyers see them all along."""
    auction = tender.auction
    return bids_opened(tender) and (auction is None or auction.status != AUCTION_SCHEDULED)


def can_transition(tender: Tender, to_status: str) -> bool:
    return to_status in TRANSITIONS[tender.status]


def transition(
    dbsession, tender: Tender, to_status: str, *, now: dt.datetime, actor=None, cause: str = ""
) -> bool:
    """Move ``tender`` to ``to_status`` and record it; raise if the table forbids it.

    The row changes only if it is still in the status this request read, so a job and a
    request making the same change at once record it once: the one that lost gets False.
    """
    if not can_transition(tender, to_status):
        raise IllegalTransition(tender, to_status)
    from_status = tender.status
    dbsession.flush()
    changed = dbsession.execute(
        update(Tender)
        .where(Tender.id == tender.id, Tender.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        dbsession.refresh(tender)
        return False
    set_committed_value(tender, "status", to_status)
    set_committed_value(tender, "updated_at", now)
    dbsession.add(
        TenderTransition(
            tender_id=tender.id,
            from_status=from_status,
            to_status=to_status,
            at=now,
            actor_id=actor.id if actor is not None else None,
            cause=cause[:2000],
        )
    )
    if to_status in AUDITED:
        record(
            dbsession,
            AUDITED[to_status],
            actor_id=actor.id if actor is not None else None,
            object=("tender", tender.reference),
            details={"from": from_status},
        )
    dbsession.flush()
    return True


def _next_step(dbsession, tender: Tender, now: dt.datetime) -> str | None:
    """The next change the clock has made due by ``now``, if any."""
    if tender.status == QUESTIONS and _passed(tender.questions_until, now):
        return BIDDING
    if tender.status == BIDDING and _passed(tender.bids_until, now):
        return AWAITING_OPENING
    if tender.status == STANDSTILL and standstill_over(dbsession, tender, now):
        return CONTRACTING
    return None


def active_award(dbsession, tender: Tender) -> Award | None:
    """The tender's award in force (at most one: a new award cancels none, the old one is
    cancelled first)."""
    return dbsession.scalar(
        select(Award).where(Award.tender_id == tender.id, Award.status == AWARD_ACTIVE)
    )


def standstill_over(dbsession, tender: Tender, now: dt.datetime) -> bool:
    """Has the active award's standstill ended with no complaint still open (unpaid complaints
    lapse at its end, see :mod:`portal.procurement.complaints`)?"""
    award = active_award(dbsession, tender)
    if award is None or not _passed(award.standstill_until, now):
        return False
    open_complaint = dbsession.scalar(
        select(
            exists().where(Complaint.award_id == award.id, Complaint.status.in_(OPEN_COMPLAINTS))
        )
    )
    return not open_complaint


def _passed(moment: dt.datetime | None, now: dt.datetime) -> bool:
    return moment is not None and now >= moment


def due_status(tender: Tender, now: dt.datetime) -> str:
    """The status the clock says a tender is in at ``now``, whether or not the change is
    recorded yet (draft, opened and cancelled tenders stay where they are: people move them)."""
    if tender.status in (QUESTIONS, BIDDING) and _passed(tender.bids_until, now):
        return AWAITING_OPENING
    if tender.status == QUESTIONS and _passed(tender.questions_until, now):
        return BIDDING
    return tender.status


_CLOCK_CAUSES = {
    BIDDING: "questions period ended",
    AWAITING_OPENING: "bid deadline passed",
    CONTRACTING: "standstill period ended",
}


def advance(dbsession, tender: Tender, now: dt.datetime) -> None:
    """Record the changes the clock has made due by ``now``, one step at a time."""
    while (step := _next_step(dbsession, tender, now)) is not None:
        transition(dbsession, tender, step, now=now, cause=_CLOCK_CAUSES[step])
        # False: someone else moved it first; the refreshed tender says where it is now


def accepts_bids(tender: Tender, now: dt.datetime) -> bool:
    """May a bid be submitted, replaced or withdrawn at ``now`` (the server's clock)? Strictly
    before the deadline: a submission at the deadline itself is late."""
    return (
        tender.status in OPEN_FOR_BIDS and tender.bids_until is not None and now < tender.bids_until
    )


def accepts_questions(tender: Tender, now: dt.datetime) -> bool:
    return (
        tender.status == QUESTIONS
        and tender.questions_until is not None
        and now < tender.questions_until
    )
