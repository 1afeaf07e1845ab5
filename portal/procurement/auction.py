"""The reverse e-auction after the opening: three rounds, one slot per bidder in each.

When a tender declares an auction and at least two bids are valid, the opening schedules it
(:func:`schedule`) ``procurement.auction_delay_minutes`` after the opening. In each round the
bidders are called from the highest price to the lowest as they stood when the round began
(ties: the earlier label first), one slot of ``procurement.auction_slot_seconds`` each; in
their slot a bidder lowers their price by at least the minimum step or keeps it
(:func:`place_step`). Every step is checked against the server's clock and stamped with it.
The timetable is computed from the recorded steps, never stored, so there is one truth about
whose slot it is.

Once the last slot has closed the auction is finished (:func:`finish_if_due`, by the job in
:mod:`portal.procurement.auction_jobs` and by any page that reads the auction): the slots
nobody used are recorded as kept, the bidders' prices are final, the auction protocol is
issued and the tender goes on to its evaluation, which reads the final prices through
:mod:`portal.procurement.prices`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_percent
from sqlalchemy import select

from portal.db import registry_of
from portal.documents.kinds import document_issuer
from portal.i18n import _
from portal.money import Money, babel_locale
from portal.procurement import state
from portal.procurement.models import (
    AUCTION_FINISHED,
    AUCTION_SCHEDULED,
    Auction,
    AuctionBidder,
    AuctionProtocol,
    AuctionStep,
    Tender,
)
from portal.procurement.prices import ValidBid
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

ROUNDS = 3
DEFAULT_DELAY_MINUTES = 60
DEFAULT_SLOT_SECONDS = 120


@dataclass(frozen=True)
class Timing:
    """When auctions start after their opening, and how long a bidder's slot is."""

    delay: dt.timedelta
    slot_seconds: int


def timing(settings) -> Timing:
    """The auction settings; a value that is not a positive whole number is a startup error
    rather than an auction that never runs."""
    delay = int(settings.get("procurement.auction_delay_minutes", DEFAULT_DELAY_MINUTES))
    slot = int(settings.get("procurement.auction_slot_seconds", DEFAULT_SLOT_SECONDS))
    if delay < 0 or slot < 10:
        raise ValueError(
            "procurement.auction_delay_minutes must be 0 or more and "
            "procurement.auction_slot_seconds 10 or more"
        )
    return Timing(dt.timedelta(minutes=delay), slot)


def label(position: int) -> str:
    """The name a bidder goes by in the auction: A, B, ... Z, then AA, AB, ..."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def schedule(dbsession, tender: Tender, valid: list[ValidBid], now: dt.datetime) -> Auction:
    """The tender's auction for its ``valid`` bids, starting after the configured delay. The
    labels follow the opened prices from the highest (ties: the earlier submission), so
    "Bidder A" is called first in the first round."""
    settings = timing(registry_of(dbsession).settings)
    ordered = sorted(
        valid, key=lambda v: (-v.opened_price.minor, v.version.submitted_at, v.version.id)
    )
    starts_at = now + settings.delay
    auction = Auction(
        tender=tender,
        status=AUCTION_SCHEDULED,
        rounds=ROUNDS,
        starts_at=starts_at,
        slot_seconds=settings.slot_seconds,
        ends_at=starts_at + dt.timedelta(seconds=ROUNDS * len(ordered) * settings.slot_seconds),
    )
    auction.bidders = [
        AuctionBidder(
            bid=v.bid,
            label=label(position),
            initial_price_minor=v.opened_price.minor,
            price_minor=v.opened_price.minor,
        )
        for position, v in enumerate(ordered)
    ]
    dbsession.add(auction)
    dbsession.flush()
    return auction


# -- the timetable ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A bidder's turn in a round: from ``starts_at`` up to (not including) ``ends_at``."""

    round: int
    position: int
    bidder: AuctionBidder
    starts_at: dt.datetime
    ends_at: dt.datetime


def ordered_bidders(auction: Auction) -> list[AuctionBidder]:
    """The bidders in the order of their labels (B before AA)."""
    return sorted(auction.bidders, key=lambda b: (len(b.label), b.label))


def prices_after(auction: Auction, round_number: int) -> dict[int, int]:
    """Each bidder's price (by bidder id) once ``round_number`` was over (0: the opened
    prices)."""
    prices = {bidder.id: bidder.initial_price_minor for bidder in auction.bidders}
    for step in sorted(auction.steps, key=lambda s: (s.round, s.at, s.id or 0)):
        if step.round <= round_number:
            prices[step.bidder_id] = step.price_minor
    return prices


def slot_length(auction: Auction) -> dt.timedelta:
    return dt.timedelta(seconds=auction.slot_seconds)


def round_starts(auction: Auction, round_number: int) -> dt.datetime:
    return auction.starts_at + (round_number - 1) * len(auction.bidders) * slot_length(auction)


def round_slots(auction: Auction, round_number: int) -> list[Slot]:
    """A round's slots: the bidders from the highest price when it began to the lowest."""
    prices = prices_after(auction, round_number - 1)
    ranks = {bidder.id: n for n, bidder in enumerate(ordered_bidders(auction))}
    called = sorted(auction.bidders, key=lambda b: (-prices[b.id], ranks[b.id]))
    start, length = round_starts(auction, round_number), slot_length(auction)
    return [
        Slot(round_number, n, bidder, start + n * length, start + (n + 1) * length)
        for n, bidder in enumerate(called)
    ]


def running(auction: Auction, now: dt.datetime) -> bool:
    return auction.status == AUCTION_SCHEDULED and auction.starts_at <= now < auction.ends_at


def current_slot(auction: Auction, now: dt.datetime) -> Slot | None:
    """The slot open at ``now``; None before the start, after the end, or once finished."""
    if not running(auction, now) or not auction.bidders:
        return None
    index = int((now - auction.starts_at) / slot_length(auction))
    round_number, position = divmod(index, len(auction.bidders))
    return round_slots(auction, round_number + 1)[position]


def step_of(auction: Auction, bidder: AuctionBidder, round_number: int) -> AuctionStep | None:
    return next(
        (s for s in auction.steps if s.bidder_id == bidder.id and s.round == round_number), None
    )


def minimum_step(tender: Tender, last_minor: int) -> Money:
    """How much a bidder must lower ``last_minor`` by at least: the tender's amount, or its
    share of the last price (in basis points) rounded up to the minor unit, never 0."""
    if tender.auction_step_minor:
        step = tender.auction_step_minor
    else:
        step = -(-last_minor * (tender.auction_step_basis_points or 0) // 10_000)
    return Money(max(step, 1), tender.currency)


def step_text(tender: Tender, locale: str) -> str:
    """The minimum step as the pages and the protocol state it, in ``locale``: "€500.00" or
    "0.5%" ("0,5 %" in Slovenian)."""
    if tender.auction_step_minor:
        return Money(tender.auction_step_minor, tender.currency).format(locale)
    fraction = Decimal(tender.auction_step_basis_points or 0) / 10_000
    return format_percent(fraction, locale=babel_locale(locale), decimal_quantization=False)


# -- steps --------------------------------------------------------------------------------------


def _lock(dbsession, tender: Tender) -> Auction | None:
    """The tender's row locked and it and its auction read afresh, so that two steps, or a
    step and the finishing, are decided one after the other."""
    dbsession.refresh(tender, with_for_update=True)
    auction = dbsession.scalar(
        select(Auction)
        .where(Auction.tender_id == tender.id)
        .execution_options(populate_existing=True)
    )
    if auction is not None:
        dbsession.refresh(auction, ["steps", "bidders"])
    return auction


def place_step(
    dbsession,
    tender: Tender,
    bidder: AuctionBidder,
    user,
    *,
    price: Money | None,
    now: dt.datetime,
    locale: str = "en",
) -> AuctionStep:
    """``bidder``'s step in the slot open at ``now``: ``price`` lowers their price, None keeps
    it. Refused unless the auction runs, the slot is theirs and still unused, and the price
    is lower than their last by at least the minimum step."""
    auction = _lock(dbsession, tender)
    if tender.status != state.AUCTION or auction is None or not running(auction, now):
        raise Refusal(CONFLICT, _("The auction is not running."), about=tender)
    slot = current_slot(auction, now)
    if slot is None or slot.bidder.id != bidder.id:
        raise Refusal(
            CONFLICT,
            _("This is not your slot. You may step only while the auction calls you."),
            about=tender,
        )
    if step_of(auction, bidder, slot.round) is not None:
        raise Refusal(CONFLICT, _("You have made your step in this round already."), about=tender)
    last = bidder.price_minor
    if price is not None:
        _check_price(tender, last, price, locale)
    step = AuctionStep(
        auction=auction,
        bidder=bidder,
        round=slot.round,
        price_minor=last if price is None else price.minor,
        kept=price is None,
        at=now,
        by_id=user.id,
    )
    dbsession.add(step)
    bidder.price_minor = step.price_minor
    dbsession.flush()
    return step


def _check_price(tender: Tender, last_minor: int, price: Money, locale: str) -> None:
    last = Money(last_minor, tender.currency)
    if price.minor > last_minor:
        mapping = {"last": last.format(locale)}
        raise Refusal(
            INVALID,
            _(
                "Your new price is above your last price of ${last}. Lower it, or keep your price.",
                mapping=mapping,
            ),
            errors=[
                FieldError(
                    "price",
                    _(
                        "Your new price is above your last price of ${last}. Lower it, or keep "
                        "your price.",
                        mapping=mapping,
                    ),
                )
            ],
        )
    step = minimum_step(tender, last_minor)
    if last_minor - price.minor < step.minor:
        mapping = {
            "step": step.format(locale),
            "most": Money(last_minor - step.minor, tender.currency).format(locale),
        }
        raise Refusal(
            INVALID,
            _(
                "Lower your price by at least the minimum step of ${step}, to ${most} or "
                "less; or keep your price.",
                mapping=mapping,
            ),
            errors=[
                FieldError(
                    "price",
                    _(
                        "Lower your price by at least the minimum step of ${step}, to ${most} "
                        "or less; or keep your price.",
                        mapping=mapping,
                    ),
                )
            ],
        )
    if price.minor <= 0:
        raise Refusal(
            INVALID,
            _("Enter a price above zero."),
            errors=[FieldError("price", _("Enter a price above zero."))],
        )


# -- finishing ----------------------------------------------------------------------------------


def due_to_finish(tender: Tender, now: dt.datetime) -> bool:
    auction = tender.auction
    return (
        tender.status == state.AUCTION
        and auction is not None
        and auction.status == AUCTION_SCHEDULED
        and now >= auction.ends_at
    )


def finish_if_due(dbsession, tender: Tender, now: dt.datetime) -> bool:
    """Finish ``tender``'s auction if its last slot has closed: the unused slots recorded as
    kept, the prices final, the protocol issued (rendered after the commit) and the tender
    on to its evaluation. Whether it finished it now (a second caller at once does not)."""
    if not due_to_finish(tender, now):
        return False
    auction = _lock(dbsession, tender)
    if auction is None or not due_to_finish(tender, now):
        return False
    for round_number in range(1, auction.rounds + 1):
        prices = prices_after(auction, round_number - 1)
        for slot in round_slots(auction, round_number):
            if step_of(auction, slot.bidder, round_number) is None:
                auction.steps.append(
                    AuctionStep(
                        bidder=slot.bidder,
                        round=round_number,
                        price_minor=prices[slot.bidder.id],
                        kept=True,
                        at=slot.ends_at,
                    )
                )
    final = prices_after(auction, auction.rounds)
    for bidder in auction.bidders:
        bidder.price_minor = final[bidder.id]
    auction.status = AUCTION_FINISHED
    auction.finished_at = now
    dbsession.flush()
    owner = tender.created_by
    document_issuer(registry_of(dbsession)).issue(
        dbsession,
        AuctionProtocol(auction_tender=tender, owner_user_id=owner.id, locale=owner.locale or "en"),
        now,
    )
    state.transition(
        dbsession, tender, state.EVALUATION, now=now, cause="auction finished: evaluation begins"
    )
    return True


def protocol_of(dbsession, tender: Tender) -> AuctionProtocol | None:
    return dbsession.scalar(
        select(AuctionProtocol).where(AuctionProtocol.auction_tender_id == tender.id)
    )
