"""The bid securities after the opening: given back or kept as the tender reaches each end.

At the award every bidder's security but the winner's is given back; the winner's once the
contract is signed; kept (moved to the department's revenue, with the reason) when the winner
refuses to sign; and every one still held is given back when the tender is cancelled or ends
unsuccessful. Each movement is one ledger transaction of :mod:`portal.billing` (a release
also a refund, sent to the provider once the transaction commits).

Like :func:`portal.procurement.bid_billing.close_charges`, each deposit is locked before it is
looked at, in the order of the bids, so two movements at once move it once; a deposit no
longer held (moved already) is passed over, so a movement asked twice happens once; and a
deposit that cannot be moved (not lodged by one payment) is logged for a clerk while the
others go on: one bidder's deposit never holds back the rest.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from portal.billing import forfeit_deposit, release_deposit, with_status
from portal.billing.models import Deposit
from portal.procurement.bid_billing import HELD
from portal.procurement.models import Award, Bid, Tender
from portal.refusals import Refusal

log = logging.getLogger(__name__)

RELEASE = "release"
FORFEIT = "forfeit"


def release_at_award(
    dbsession, tender: Tender, award: Award, now: dt.datetime, actor=None
) -> list[Deposit]:
    """Give back the security of every bidder of ``tender`` but ``award``'s winner; returns
    the deposits given back now."""
    others = [bid for bid in _bids(dbsession, tender) if bid.id != award.bid_id]
    why = f"Tender {tender.reference} awarded to another bid"
    return _move(dbsession, others, RELEASE, why, now, actor)


def release_winner(
    dbsession, tender: Tender, award: Award, now: dt.datetime, actor=None
) -> list[Deposit]:
    """Give back the winner's security: the contract is signed."""
    why = f"Contract of tender {tender.reference} signed"
    return _move(dbsession, [award.bid], RELEASE, why, now, actor)


def forfeit_winner(
    dbsession, tender: Tender, award: Award, reason: str, now: dt.datetime, actor=None
) -> list[Deposit]:
    """Keep the winner's security, who refused to sign the contract for ``reason``: the
    money held becomes the department's revenue."""
    why = f"Winner of tender {tender.reference} refused to sign the contract: {reason}"
    return _move(dbsession, [award.bid], FORFEIT, why, now, actor)


def release_all(
    dbsession, tender: Tender, reason: str, now: dt.datetime, actor=None
) -> list[Deposit]:
    """Give back every security of ``tender`` still held (it is cancelled, or unsuccessful,
    for ``reason``)."""
    return _move(dbsession, _bids(dbsession, tender), RELEASE, reason, now, actor)


def _bids(dbsession, tender: Tender) -> list[Bid]:
    """The tender's bids that asked for a security, read afresh, in a fixed order (the
    order their deposits are locked in)."""
    return list(
        dbsession.scalars(
            select(Bid)
            .where(Bid.tender_id == tender.id, Bid.deposit_id.is_not(None))
            .order_by(Bid.id)
            .execution_options(populate_existing=True)
        )
    )


def _move(
    dbsession, bids: list[Bid], how: str, reason: str, now: dt.datetime, actor
) -> list[Deposit]:
    moved = []
    for bid in sorted(bids, key=lambda b: b.id):
        deposit = bid.deposit
        if deposit is None:
            continue
        dbsession.refresh(deposit, with_for_update=True)
        if deposit.status != HELD:  # by an earlier call, a withdrawal or a deadline
            log.info(
                "deposit %s of bid %s is %s already",
                deposit.public_id,
                bid.public_id,
                deposit.status,
            )
            continue
        (view,) = with_status(dbsession, [deposit.bill])
        if not view.settled:
            log.warning(
                "deposit %s of bid %s is not lodged, so not moved (%s): a clerk must look at it",
                deposit.public_id,
                bid.public_id,
                how,
            )
            continue
        try:
            with dbsession.begin_nested():
                if how == FORFEIT:
                    forfeit_deposit(dbsession, deposit, reason, now, actor)
                else:
                    release_deposit(dbsession, deposit, reason, now, actor)
        except Refusal:
            log.warning(
                "deposit %s of bid %s not moved (%s): a clerk must look at it",
                deposit.public_id,
                bid.public_id,
                how,
            )
            continue
        moved.append(deposit)
    dbsession.flush()
    return moved
