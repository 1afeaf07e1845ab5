"""The auction protocol: the signed, public record of a tender's reverse e-auction.

It goes through the one documents pipeline like the opening protocol: each bidder by label
with its organisation (the auction is over; the opening protocol named them already), its
opened and final price, and every round's steps in the order the bidders were called, each
with the server's time stamp, in the portal's timezone and in UTC.
"""

from __future__ import annotations

from portal.clock import clock
from portal.documents.models import Document
from portal.i18n import _
from portal.localized import localized
from portal.money import Money
from portal.procurement import auction as auctions
from portal.procurement.documents import ProcurementKind, moment
from portal.procurement.models import Auction, AuctionProtocol, Tender


def protocol_auction(document: Document) -> tuple[Tender, Auction]:
    """The tender and auction an auction protocol records (set when issued, never changed)."""
    tender = document.auction_tender if isinstance(document, AuctionProtocol) else None
    if tender is None or tender.auction is None:
        raise ValueError(f"document {document.number} is not the protocol of an auction")
    return tender, tender.auction


class AuctionProtocolKind(ProcurementKind):
    """The result of an auction, public at ``/verify`` and at the tender's protocol URL."""

    model = AuctionProtocol
    series = "AP"
    title = _("Auction protocol")
    template = "documents/auction_protocol.jinja2"
    data_name = "auction-protocol.json"

    def data(self, document: Document, issuer) -> dict:
        tender, auction = protocol_auction(document)
        timezone, locale = issuer.timezone, document.locale

        def money(minor: int) -> str:
            return Money(minor, tender.currency).format(locale)

        bidders = [
            {
                "label": bidder.label,
                "organisation": bidder.bid.organisation.name,
                "registration_number": bidder.bid.organisation.registration_number,
                "opened_price": money(bidder.initial_price_minor),
                "opened_price_minor": bidder.initial_price_minor,
                "final_price": money(bidder.price_minor),
                "final_price_minor": bidder.price_minor,
            }
            for bidder in sorted(auction.bidders, key=lambda b: (b.price_minor, b.label))
        ]
        rounds = []
        for round_number in range(1, auction.rounds + 1):
            steps = []
            for slot in auctions.round_slots(auction, round_number):
                step = auctions.step_of(auction, slot.bidder, round_number)
                if step is None:
                    continue
                steps.append(
                    {
                        "label": slot.bidder.label,
                        "slot_start": moment(slot.starts_at, timezone, locale),
                        "price": money(step.price_minor),
                        "price_minor": step.price_minor,
                        "kept": step.kept,
                        "by_bidder": step.by_id is not None,
                        "at": moment(step.at, timezone, locale),
                    }
                )
            rounds.append({"number": round_number, "steps": steps})
        return {
            "authority": {"name": self.authority(document, issuer), "address": ""},
            "signed_by": issuer.authority(locale)["name"],
            "tender": {
                "reference": tender.reference,
                "title": tender.title,
                "buyer": localized(tender.department, "name", locale),
                "currency": tender.currency,
            },
            "auction": {
                "starts": moment(auction.starts_at, timezone, locale),
                "ends": moment(auction.ends_at, timezone, locale),
                "slot_seconds": auction.slot_seconds,
                "rounds": auction.rounds,
                "minimum_step": auctions.step_text(tender, locale),
            },
            "bidders": bidders,
            "rounds": rounds,
        }

    def authority(self, document: Document, issuer, locale: str | None = None) -> str:
        """The buying department, whose auction it was; the portal signs for it."""
        return localized(
            protocol_auction(document)[0].department, "name", locale or document.locale
        )

    def verification(self, document: Document) -> dict:
        tender, auction = protocol_auction(document)
        return {
            "status": "valid",
            "facts": [
                (_("Tender"), f"{tender.reference} · {tender.title}"),
                *self.times(
                    document,
                    _("Auction ended (${timezone})"),
                    _("Auction ended (UTC)"),
                    auction.ends_at,
                ),
                (_("Bidders"), str(len(auction.bidders))),
            ],
        }


def includeme(config) -> None:
    config.add_document_kind(AuctionProtocolKind(clock(config.registry).timezone))
