"""Awards: the decision that a tender goes to a bid, and its undoing.

An award is published with its reasons and opens the standstill, during which bidders may
complain (:mod:`portal.procurement.complaints`). An upheld complaint withdraws it, and so
does the winner's refusal to sign: the tender goes back to evaluation, where the buyer
qualifies a bid anew.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.i18n import _
from portal.procurement import state
from portal.procurement.models import (
    AWARD_CANCELLED,
    QUALIFIED,
    Award,
    QualificationDecision,
    Tender,
)
from portal.refusals import CONFLICT, Refusal


def withdraw_award(
    dbsession, tender: Tender, *, reason: str, now: dt.datetime, actor=None
) -> Award:
    """Cancel ``tender``'s active award (an upheld complaint, the winner's refusal to sign),
    annul the qualification that led to it and send the tender back to evaluation. The
    tender's row is locked first, so two withdrawals at once withdraw it once: the second is
    refused."""
    dbsession.refresh(tender, with_for_update=True)
    award = state.active_award(dbsession, tender)
    if award is None or tender.status not in (state.STANDSTILL, state.CONTRACTING):
        raise Refusal(CONFLICT, _("This tender has no award in force."), about=tender)
    award.status = AWARD_CANCELLED
    award.cancelled_at = now
    award.cancel_reason = reason[:2000]
    qualified = dbsession.scalars(
        select(QualificationDecision).where(
            QualificationDecision.tender_id == tender.id,
            QualificationDecision.bid_id == award.bid_id,
            QualificationDecision.outcome == QUALIFIED,
            QualificationDecision.annulled_at.is_(None),
        )
    )
    for decision in qualified:
        decision.annulled_at = now
        decision.annulled_reason = reason[:2000]
    state.transition(dbsession, tender, state.EVALUATION, now=now, actor=actor, cause=reason)
    return award
