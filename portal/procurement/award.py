"""Awards: the decision that a tender goes to a bid, and its undoing.

An award is published with its reasons and opens the standstill, during which bidders may
complain (:mod:`portal.procurement.complaints`). An upheld complaint withdraws it, and so
does the winner's refusal to sign: the tender goes back to evaluation, where the buyer
qualifies a bid anew.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.i18n import _
from portal.procurement import deposit_movements, state
from portal.procurement.models import (
    AWARD_CANCELLED,
    DISQUALIFIED,
    MAX_REASON,
    QUALIFIED,
    Award,
    QualificationDecision,
    Tender,
)
from portal.procurement.qualification import standing
from portal.refusals import CONFLICT, Refusal

#: the standstill's length in days when the setting ``procurement.standstill_days`` is unset
DEFAULT_STANDSTILL_DAYS = 10


def standstill_days(settings) -> int:
    """The setting, read at startup (a value that is not a whole number of at least one day
    stops the portal, rather than every award) and again by each award."""
    days = int(settings.get("procurement.standstill_days", DEFAULT_STANDSTILL_DAYS))
    if days < 1:
        raise ValueError("procurement.standstill_days must be 1 or more")
    return days


def standstill_end(decided_at: dt.datetime, days: int, timezone: ZoneInfo) -> dt.datetime:
    """The end of the ``days``-th day after the award's local date in ``timezone`` (the
    following midnight there, as aware UTC): an award at 16:00 on 1 March with 10 days runs
    until 11 March ends, whatever the clocks do meanwhile. A midnight that a clock change skips
    is read as the instant the day begins."""
    last_day = decided_at.astimezone(timezone).date() + dt.timedelta(days=days)
    midnight = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=timezone)
    return midnight.astimezone(dt.UTC)


def make_award(
    dbsession,
    tender: Tender,
    *,
    bid_public_id: str,
    reasons: str,
    now: dt.datetime,
    actor,
    days: int,
    timezone: ZoneInfo,
) -> Award:
    """Award ``tender`` to its qualified bid, named by ``bid_public_id`` (the one the buyer
    read on the page), at its current price, and open the standstill. The tender's row is
    locked first: two awards sent at once make one, the second is refused."""
    dbsession.refresh(tender, with_for_update=True)
    if tender.status != state.EVALUATION:
        raise Refusal(CONFLICT, _("This tender is not under evaluation."), about=tender)
    qualified = standing(dbsession, tender).qualified
    if qualified is None or qualified.bid.public_id != bid_public_id:
        raise Refusal(CONFLICT, _("Only the qualified bid can be awarded."), about=tender)
    award = Award(
        tender_id=tender.id,
        bid_id=qualified.bid.id,
        value_minor=qualified.valid.price.minor,
        currency=qualified.valid.price.currency,
        reasons=reasons,
        decided_at=now,
        decided_by_id=actor.id,
        standstill_until=standstill_end(now, days, timezone),
    )
    dbsession.add(award)
    dbsession.flush()
    state.transition(dbsession, tender, state.STANDSTILL, now=now, actor=actor, cause=reasons)
    # the losing bidders' securities go back now; the winner's waits for the contract
    deposit_movements.release_at_award(dbsession, tender, award, now, actor)
    return award


def withdraw_award(
    dbsession,
    tender: Tender,
    *,
    reason: str,
    now: dt.datetime,
    actor=None,
    requalify: bool = False,
) -> Award:
    """Cancel ``tender``'s active award and send the tender back to evaluation, annulling the
    winner's qualification. The winner's refusal to sign stops there: the buyer goes on to
    the next-ranked bid. An upheld complaint (``requalify``) sends the whole qualification
    back: every qualification and disqualification still standing is annulled, so the buyer
    examines the bids again from the best-ranked one, whichever decision the complaint
    overturned (a refusal to sign stands). The tender's row is locked first, so two
    withdrawals at once withdraw it once: the second is refused."""
    dbsession.refresh(tender, with_for_update=True)
    award = state.active_award(dbsession, tender)
    if award is None or tender.status not in (state.STANDSTILL, state.CONTRACTING):
        raise Refusal(CONFLICT, _("This tender has no award in force."), about=tender)
    award.status = AWARD_CANCELLED
    award.cancelled_at = now
    award.cancel_reason = reason[:MAX_REASON]
    qualified = dbsession.scalars(
        select(QualificationDecision).where(
            QualificationDecision.tender_id == tender.id,
            QualificationDecision.outcome.in_((QUALIFIED, DISQUALIFIED))
            if requalify
            else (QualificationDecision.bid_id == award.bid_id)
            & (QualificationDecision.outcome == QUALIFIED),
            QualificationDecision.annulled_at.is_(None),
        )
    )
    for decision in qualified:
        decision.annulled_at = now
        decision.annulled_reason = reason[:MAX_REASON]
    state.transition(dbsession, tender, state.EVALUATION, now=now, actor=actor, cause=reason)
    return award
