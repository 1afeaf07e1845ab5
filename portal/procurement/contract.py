"""The contract: the buyer records it once the standstill is over, or the winner's refusal.

Once the award's standstill has ended with no complaint open, the tender awaits its contract
(``contracting``). The buyer records the signed contract (its value, the day it was signed and
the signed document): the tender is complete and the winner's security is given back. Or the
buyer records that the winner refused to sign, with the reason: the winner's security is
kept (:func:`~portal.procurement.deposit_movements.forfeit_winner`), the award withdrawn, the
refusal recorded as the winner's qualification decision, and the tender goes back to
evaluation, where the next-ranked bid is examined.

Both lock the tender's row first and record what the clock has done, so of two clicks at once
the second finds the tender moved on and is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from portal.dates import date_of, typed_parts
from portal.i18n import _
from portal.money import MoneyError
from portal.procurement import deposit_movements, files, state
from portal.procurement.award import withdraw_award
from portal.procurement.bids import lock_tender
from portal.procurement.drafting import parse_amount
from portal.procurement.models import (
    MAX_REASON,
    REFUSED_TO_SIGN,
    Award,
    Contract,
    QualificationDecision,
    Tender,
)
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal


@dataclass(frozen=True)
class SignedContract:
    """The contract as the buyer typed and uploaded it, checked."""

    value_minor: int
    signed_on: dt.date
    document: files.Upload


def awaiting_contract(dbsession, tender: Tender, now: dt.datetime) -> bool:
    """Does ``tender`` await its contract at ``now``, as the clock has it (the standstill may
    be over without the change recorded yet)? Reads only."""
    if tender.status == state.STANDSTILL:
        return state.standstill_over(dbsession, tender, now)
    return tender.status == state.CONTRACTING


def contracting_award(dbsession, tender: Tender, now: dt.datetime) -> Award:
    """Lock ``tender``, record what the clock has done, and return the award whose contract
    is awaited; refused (409) unless the tender awaits its contract."""
    lock_tender(dbsession, tender)
    state.advance(dbsession, tender, now)
    if tender.status == state.STANDSTILL:
        raise Refusal(
            CONFLICT,
            _(
                "The contract can be recorded only once the standstill period is over with "
                "no complaint open."
            ),
            about=tender,
        )
    if tender.status == state.COMPLETE:
        raise Refusal(CONFLICT, _("The contract of this tender is recorded already."), about=tender)
    award = state.active_award(dbsession, tender)
    if tender.status != state.CONTRACTING or award is None:
        raise Refusal(CONFLICT, _("This tender does not await a contract."), about=tender)
    return award


def read_contract(
    post, tender: Tender, award: Award, *, settings, today: dt.date, timezone: ZoneInfo
) -> SignedContract:
    """The posted contract, every field checked at once: a value above zero in the tender's
    currency, the day it was signed (not before the award, not in the future) and the signed
    document. A :class:`Refusal` naming every bad field."""
    errors: list[FieldError] = []
    value_minor = 0
    text = post.get("value", "")
    with contextlib.suppress(MoneyError):
        value_minor = parse_amount(text if isinstance(text, str) else "", tender.currency).minor
    if value_minor <= 0:
        errors.append(
            FieldError(
                "value",
                _(
                    "Enter the contract's value in ${currency}, more than zero, for example "
                    "182,400.00.",
                    mapping={"currency": tender.currency},
                ),
            )
        )
    signed_on = None
    parts = typed_parts(post, "signed_on") or {"day": "", "month": "", "year": ""}
    try:
        signed_on = date_of(**parts)
    except Refusal as refused:
        errors.append(FieldError("signed_on", refused.message))
    if signed_on is not None and signed_on > today:
        errors.append(FieldError("signed_on", _("The day it was signed cannot be in the future.")))
    elif signed_on is not None and signed_on < award.decided_at.astimezone(timezone).date():
        errors.append(
            FieldError("signed_on", _("The day it was signed cannot be before the award."))
        )
    document = None
    try:
        document = files.check_upload("document", post.get("document"), settings)
    except Refusal as refused:
        errors.extend(refused.errors)
    if errors or signed_on is None or document is None:
        raise Refusal(INVALID, _("The contract cannot be recorded yet."), errors=errors)
    return SignedContract(value_minor, signed_on, document)


def record_contract(
    dbsession, tender: Tender, signed: SignedContract, *, actor, now: dt.datetime
) -> Contract:
    """Record the signed contract: the tender is complete, the winner's security given back
    (refunded once the transaction commits)."""
    award = contracting_award(dbsession, tender, now)
    contract = Contract(
        tender=tender,
        award=award,
        value_minor=signed.value_minor,
        currency=tender.currency,
        signed_on=signed.signed_on,
        file=files.store(dbsession, signed.document, now),
        filename=signed.document.filename,
        recorded_at=now,
        recorded_by_id=actor.id,
    )
    dbsession.add(contract)
    dbsession.flush()
    if not state.transition(
        dbsession, tender, state.COMPLETE, now=now, actor=actor, cause="contract signed"
    ):
        raise Refusal(CONFLICT, _("The tender changed meanwhile. Reload it."), about=tender)
    deposit_movements.release_winner(dbsession, tender, award, now, actor)
    return contract


def read_refusal_reason(post) -> str:
    text = post.get("refusal_reason", "")
    reason = text.strip() if isinstance(text, str) else ""
    if not reason:
        message = _("Say why the winner did not sign.")
    elif len(reason) > MAX_REASON:
        message = _("Keep this under ${limit} characters.", mapping={"limit": MAX_REASON})
    else:
        return reason
    raise Refusal(
        INVALID, _("Some answers need fixing."), errors=[FieldError("refusal_reason", message)]
    )


def record_refusal(dbsession, tender: Tender, reason: str, *, actor, now: dt.datetime) -> bool:
    """Record that the winner refused to sign, for ``reason``: their security is kept, the
    award withdrawn and the refusal recorded as the decision on their bid; the tender goes
    back to evaluation. Returns whether a security was kept: a bidder awarded after an
    earlier award (withdrawn on a complaint or a refusal) had theirs given back at it."""
    award = contracting_award(dbsession, tender, now)
    kept = deposit_movements.forfeit_winner(dbsession, tender, award, reason, now, actor)
    withdraw_award(
        dbsession, tender, reason=f"The winner refused to sign: {reason}", now=now, actor=actor
    )
    dbsession.add(
        QualificationDecision(
            tender_id=tender.id,
            bid_id=award.bid_id,
            outcome=REFUSED_TO_SIGN,
            reason=reason,
            decided_at=now,
            decided_by_id=actor.id,
        )
    )
    dbsession.flush()
    return bool(kept)
