"""Qualification: the buyer examines the best-ranked bid not yet decided, qualifies it or
disqualifies it with a written reason, then the next; the first qualified bid is the one to
award. When every valid bid is disqualified the buyer declares the tender unsuccessful.

A decision names the bid it is about, and is refused unless that is still the bid under
examination: a page left open, or the same form sent twice, cannot decide another bid than
the one the buyer read. Decisions annulled by an upheld complaint no longer count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from portal.i18n import _
from portal.procurement import deposit_movements, state
from portal.procurement.evaluation import RankedBid, Ranking, ranking
from portal.procurement.models import (
    DISQUALIFIED,
    MAX_REASON,
    QUALIFIED,
    QualificationDecision,
    Tender,
)
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

#: the longest reason kept
OUTCOMES = frozenset({QUALIFIED, DISQUALIFIED})


def decisions_in_force(dbsession, tender: Tender) -> dict[int, QualificationDecision]:
    """Bid id -> its decision not annulled (a refusal to sign included)."""
    return {
        decision.bid_id: decision
        for decision in dbsession.scalars(
            select(QualificationDecision)
            .where(
                QualificationDecision.tender_id == tender.id,
                QualificationDecision.annulled_at.is_(None),
            )
            .order_by(QualificationDecision.id)
        )
    }


@dataclass(frozen=True)
class Standing:
    """Where the qualification of a tender stands."""

    ranking: Ranking
    decisions: dict[int, QualificationDecision]
    #: the qualified bid, to be awarded (or awarded already)
    qualified: RankedBid | None
    #: the bid the buyer examines now: the best-ranked one not yet decided
    examined: RankedBid | None

    @property
    def all_disqualified(self) -> bool:
        """No bid is left to qualify: the tender can only be unsuccessful."""
        return self.ranking.complete and self.qualified is None and self.examined is None


def standing(dbsession, tender: Tender) -> Standing:
    ranked = ranking(dbsession, tender)
    decisions = decisions_in_force(dbsession, tender)
    qualified = next(
        (
            row
            for row in ranked.rows
            if (d := decisions.get(row.bid.id)) is not None and d.outcome == QUALIFIED
        ),
        None,
    )
    examined = None
    if qualified is None and ranked.complete:
        examined = next((row for row in ranked.rows if row.bid.id not in decisions), None)
    return Standing(ranked, decisions, qualified, examined)


def read_reason(posted, field: str, message) -> str:
    text = posted.get(field, "")
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise Refusal(INVALID, _("Some answers need fixing."), errors=[FieldError(field, message)])
    if len(text) > MAX_REASON:
        limit = _("Keep this under ${limit} characters.", mapping={"limit": MAX_REASON})
        raise Refusal(INVALID, _("Some answers need fixing."), errors=[FieldError(field, limit)])
    return text


def _check_evaluating(tender: Tender) -> None:
    if tender.status != state.EVALUATION:
        raise Refusal(CONFLICT, _("This tender is not under evaluation."), about=tender)


def decide(
    dbsession,
    tender: Tender,
    *,
    bid_public_id: str,
    outcome: str,
    reason: str,
    now: dt.datetime,
    actor,
) -> QualificationDecision:
    """Record the buyer's decision on the bid under examination. The tender's row is locked
    first, so two decisions sent at once are taken one after the other, and the second, no
    longer about the bid under examination, is refused."""
    if outcome not in OUTCOMES:
        raise Refusal(INVALID, _("Choose whether the bid is qualified or disqualified."))
    dbsession.refresh(tender, with_for_update=True)
    _check_evaluating(tender)
    now_standing = standing(dbsession, tender)
    if not now_standing.ranking.complete:
        raise Refusal(
            CONFLICT, _("Every bid must be scored before the qualification."), about=tender
        )
    examined = now_standing.examined
    if examined is None or examined.bid.public_id != bid_public_id:
        raise Refusal(
            CONFLICT,
            _("That bid is not the one under examination. Read the page again."),
            about=tender,
        )
    decision = QualificationDecision(
        tender_id=tender.id,
        bid_id=examined.bid.id,
        outcome=outcome,
        reason=reason,
        decided_at=now,
        decided_by_id=actor.id,
    )
    dbsession.add(decision)
    dbsession.flush()
    return decision


def declare_unsuccessful(
    dbsession, tender: Tender, *, reason: str, now: dt.datetime, actor
) -> None:
    """End a tender no bid of which can be awarded: each valid bid disqualified (or none
    valid at all)."""
    dbsession.refresh(tender, with_for_update=True)
    _check_evaluating(tender)
    if not standing(dbsession, tender).all_disqualified:
        raise Refusal(
            CONFLICT,
            _("A tender is unsuccessful only once every bid is disqualified."),
            about=tender,
        )
    state.transition(dbsession, tender, state.UNSUCCESSFUL, now=now, actor=actor, cause=reason)
    deposit_movements.release_all(
        dbsession, tender, "the tender was unsuccessful: no bid could be awarded", now, actor
    )
