"""The bids an opened tender goes on with, and the price each now stands at.

A bid is valid when its current version opened as sealed (no ``opening_fault``) with a price.
Its price is the opened one until the tender's auction finishes, then the auction's final
price: evaluation, award and publication all read it here, so there is one answer to "what
does this bid cost".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from portal.money import Money
from portal.procurement.bids import SUBMITTED
from portal.procurement.models import (
    AUCTION_FINISHED,
    AuctionBidder,
    Bid,
    BidVersion,
    Tender,
)


@dataclass(frozen=True)
class ValidBid:
    bid: Bid
    version: BidVersion
    #: the opened price, or the auction's final price once it has finished
    price: Money
    #: the price the bid opened with
    opened_price: Money


def valid_bids(dbsession, tender: Tender) -> list[ValidBid]:
    """The tender's valid bids, in the order they were submitted."""
    versions = dbsession.scalars(
        select(BidVersion)
        .join(Bid, BidVersion.bid_id == Bid.id)
        .options(contains_eager(BidVersion.bid))
        .where(
            Bid.tender_id == tender.id,
            Bid.status == SUBMITTED,
            BidVersion.status == SUBMITTED,
            BidVersion.opening_fault.is_(None),
            BidVersion.opened_price_minor.is_not(None),
        )
        .order_by(BidVersion.submitted_at, BidVersion.id)
    ).all()
    finals = auction_prices(dbsession, tender)
    found = []
    for version in versions:
        opened = Money(version.opened_price_minor or 0, tender.currency)
        final = finals.get(version.bid_id)
        price = Money(final, tender.currency) if final is not None else opened
        found.append(ValidBid(version.bid, version, price, opened))
    return found


def auction_prices(dbsession, tender: Tender) -> dict[int, int]:
    """Bid id -> final price (minor units) once the tender's auction has finished; empty
    before, and for a tender without an auction."""
    auction = tender.auction
    if auction is None or auction.status != AUCTION_FINISHED:
        return {}
    return {
        bidder.bid_id: bidder.price_minor
        for bidder in dbsession.scalars(
            select(AuctionBidder).where(AuctionBidder.auction_id == auction.id)
        )
    }
