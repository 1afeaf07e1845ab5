"""The auction's pages: anyone may watch; a bidder of the auction steps in their slot.

The page works without JavaScript: it refreshes itself (a meta refresh inside ``noscript``)
when the slot on the clock ends. With JavaScript, ``static/auction.js`` polls the status JSON
every couple of seconds and updates the prices, the round and who is called in place. Every
reader finishes an auction whose last slot has closed (as the opening page moves its tender
on), so the result never waits for the job. Bidders see each other only by label.
"""

from __future__ import annotations

import datetime as dt
import math

from pyramid.events import BeforeRender
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from portal.documents.downloads import stored, stored_pdf
from portal.i18n import _
from portal.money import Money, MoneyError
from portal.procurement import auction as auctions
from portal.procurement import state
from portal.procurement.drafting import parse_amount
from portal.procurement.local_times import local_time
from portal.procurement.models import (
    AUCTION_CANCELLED,
    AUCTION_FINISHED,
    AUCTION_SCHEDULED,
    Auction,
    AuctionBidder,
    Tender,
)
from portal.refusals import FORBIDDEN, INVALID, NOT_FOUND, UNAVAILABLE, FieldError, Refusal
from portal.security import PUBLIC
from portal.templating import locale_name
from portal.web import form_refused

#: how often a watcher's page without JavaScript refreshes at most (seconds)
MAX_REFRESH = 30
#: how often the script asks for the status (milliseconds; said in the page)
POLL_MS = 2000


def auction_of(tender: Tender) -> Auction:
    if tender.auction is None:
        raise Refusal(NOT_FOUND, _("This tender has no auction."), about=tender)
    return tender.auction


def my_bidders(request, auction: Auction) -> list[AuctionBidder]:
    """The auction's bidders this person represents (usually none or one)."""
    if request.user is None:
        return []
    mine = {organisation.id for organisation in request.user.organisations}
    return [b for b in auctions.ordered_bidders(auction) if b.bid.organisation_id in mine]


def phase(tender: Tender, auction: Auction, now: dt.datetime) -> str:
    if tender.status == state.CANCELLED:
        return AUCTION_CANCELLED
    if auction.status != AUCTION_SCHEDULED:
        return auction.status
    if now < auction.starts_at:
        return "waiting"
    return "running" if now < auction.ends_at else "finishing"


def seconds_until(now: dt.datetime, when: dt.datetime) -> int:
    return max(0, math.ceil((when - now).total_seconds()))


def status(request, tender: Tender, now: dt.datetime) -> dict:
    """What the page shows and the script reads: labels and prices, never who is behind a
    label; ``mine`` is the viewer's own label when they are a bidder."""
    auction = auction_of(tender)
    locale = locale_name(request)
    slot = auctions.current_slot(auction, now) if tender.status == state.AUCTION else None
    mine = [b.label for b in my_bidders(request, auction)]
    current = phase(tender, auction, now)
    if slot is not None:
        order = auctions.round_slots(auction, slot.round)
        stepped = {
            s.bidder.label
            for s in order
            if auctions.step_of(auction, s.bidder, slot.round) is not None
        }
    elif current == "waiting":
        order, stepped = auctions.round_slots(auction, 1), set()
    else:
        order, stepped = [], set()
    if current == "waiting":
        next_change = auction.starts_at
    elif slot is not None:
        next_change = slot.ends_at
    else:
        next_change = None
    translate = request.localizer.translate
    called = slot.bidder.label if slot else None
    return {
        "reference": tender.reference,
        "phase": current,
        "state_text": translate(_state_text(current, auction, slot, now, request)),
        "turn_text": translate(
            _("It is your slot now. Lower your price by at least the minimum step, or keep it.")
            if called in mine
            else _("Wait for your slot: a step outside it is refused.")
        ),
        "now": now.isoformat(),
        "starts_at": auction.starts_at.isoformat(),
        "ends_at": auction.ends_at.isoformat(),
        "starts_local": local_time(request, auction.starts_at),
        "ends_local": local_time(request, auction.ends_at),
        "rounds": auction.rounds,
        "slot_seconds": auction.slot_seconds,
        "minimum_step": auctions.step_text(tender, locale),
        "round": slot.round if slot else None,
        "called": called,
        "slot_ends_at": slot.ends_at.isoformat() if slot else None,
        "seconds_left": seconds_until(now, next_change) if next_change else None,
        "mine": mine,
        "bidders": [
            {
                "label": b.label,
                "name": translate(_("Bidder ${label}", mapping={"label": b.label})),
                "price": Money(b.price_minor, tender.currency).format(locale),
                "price_minor": b.price_minor,
                "opened_price": Money(b.initial_price_minor, tender.currency).format(locale),
            }
            for b in auctions.ordered_bidders(auction)
        ],
        "order": [
            {
                "label": s.bidder.label,
                "text": translate(
                    _(
                        "Bidder ${label} · ${when} · step made",
                        mapping={"label": s.bidder.label, "when": local_time(request, s.starts_at)},
                    )
                    if s.bidder.label in stepped
                    else _(
                        "Bidder ${label} · ${when}",
                        mapping={"label": s.bidder.label, "when": local_time(request, s.starts_at)},
                    )
                ),
            }
            for s in order
        ],
    }


def _state_text(current: str, auction: Auction, slot, now: dt.datetime, request):
    if current == "waiting":
        return _(
            "The auction has not started yet. It starts at ${when}.",
            mapping={"when": local_time(request, auction.starts_at)},
        )
    if current == "running" and slot is not None:
        return _(
            "Round ${round} of ${rounds}: Bidder ${label} is called (${seconds} seconds left).",
            mapping={
                "round": slot.round,
                "rounds": auction.rounds,
                "label": slot.bidder.label,
                "seconds": seconds_until(now, slot.ends_at),
            },
        )
    if current == "finishing":
        return _("The auction has ended. The final prices are being recorded.")
    if current == AUCTION_CANCELLED:
        return _("The auction was cancelled with the tender.")
    return _("The auction has finished. These are the final prices.")


def refresh_seconds(values: dict) -> int | None:
    """When the page without JavaScript reloads itself: when the slot on the clock ends (or
    the auction starts), for watchers at most MAX_REFRESH seconds on so that they see the
    steps; for the bidder called, only at the end of their slot, so that no reload wipes
    the price they are typing. Never once it is over."""
    if values["phase"] in (AUCTION_FINISHED, AUCTION_CANCELLED):
        return None
    left = values["seconds_left"]
    wait = (left if left is not None else 1) + 1
    if values["called"] is not None and values["called"] in values["mine"]:
        return wait
    return max(1, min(MAX_REFRESH, wait))


def render_page(request, tender: Tender, errors=None, typed: str = ""):
    now = request.clock.now()
    values = status(request, tender, now)
    protocol = auctions.protocol_of(request.dbsession, tender)
    translate = request.localizer.translate
    return render_to_response(
        "procurement/auction/auction.jinja2",
        {
            "tender": tender,
            "status": values,
            "status_label": translate(state.LABELS[tender.status]),
            "refresh": refresh_seconds(values),
            "poll_ms": POLL_MS,
            "protocol_url": (
                request.route_path("tender_auction_protocol", reference=tender.reference)
                if protocol is not None
                else None
            ),
            "errors": {field: translate(message) for field, message in (errors or {}).items()},
            "typed": typed,
        },
        request=request,
        response=request.response,
    )


def finished_by_reading(request, tender: Tender) -> None:
    """Finish the auction if its last slot has closed and the job has not yet."""
    auctions.finish_if_due(request.dbsession, tender, request.clock.now())


@view_config(route_name="tender_auction", request_method="GET", permission="view")
def auction_page(context, request):
    tender = context.tender
    auction_of(tender)
    finished_by_reading(request, tender)
    return render_page(request, tender)


@view_config(
    route_name="tender_auction_status", request_method="GET", permission="view", renderer="json"
)
def auction_status(context, request):
    tender = context.tender
    auction_of(tender)
    finished_by_reading(request, tender)
    request.response.cache_control = "no-store"
    return status(request, tender, request.clock.now())


@view_config(route_name="tender_auction_step", request_method="POST", permission="bid")
def auction_step(context, request):
    """A bidder lowers or keeps their price in their slot; a refused step shows the page again
    with the reason, and changes nothing."""
    tender = context.tender
    auction = auction_of(tender)
    now = request.clock.now()
    typed = request.POST.get("price", "")
    typed = typed.strip()[:40] if isinstance(typed, str) else ""
    try:
        bidder = _bidder(request, auction)
        keep = request.POST.get("action") == "keep"
        price = None if keep else _price(typed, tender.currency)
        step = auctions.place_step(
            request.dbsession,
            tender,
            bidder,
            request.user,
            price=price,
            now=now,
            locale=locale_name(request),
        )
    except Refusal as refused:
        return render_page(request, tender, form_refused(request, refused), typed)
    if step.kept:
        message = _("You kept your price. Your step is recorded.")
    else:
        message = _("Your new price is recorded.")
    request.session.flash(request.localizer.translate(message))
    return HTTPSeeOther(request.route_url("tender_auction", reference=tender.reference))


def _bidder(request, auction: Auction) -> AuctionBidder:
    """The bidder this person steps for: the label posted, among the auction's bidders of
    their own organisations (their only one when none is posted)."""
    mine = my_bidders(request, auction)
    if not mine:
        raise Refusal(FORBIDDEN, _("You are not a bidder of this auction."), about=auction.tender)
    posted = request.POST.get("label", "")
    if not posted and len(mine) == 1:
        return mine[0]
    for bidder in mine:
        if bidder.label == posted:
            return bidder
    raise Refusal(FORBIDDEN, _("You are not a bidder of this auction."), about=auction.tender)


def _price(typed: str, currency: str):
    try:
        return parse_amount(typed, currency)
    except MoneyError:
        raise Refusal(
            INVALID,
            _(
                "Enter your new price in ${currency}, for example 175,000.00 or 175000; or "
                "keep your price.",
                mapping={"currency": currency},
            ),
            errors=[
                FieldError(
                    "price",
                    _(
                        "Enter your new price in ${currency}, for example 175,000.00 or "
                        "175000; or keep your price.",
                        mapping={"currency": currency},
                    ),
                )
            ],
        ) from None


@view_config(route_name="tender_auction_protocol", request_method="GET", permission=PUBLIC)
def auction_protocol(context, request):
    """The signed auction protocol, anyone's once the auction has finished."""
    tender = context.tender
    auction_of(tender)
    finished_by_reading(request, tender)
    protocol = auctions.protocol_of(request.dbsession, tender)
    if protocol is None:
        raise Refusal(NOT_FOUND, _("This auction has no protocol yet."), about=tender)
    if not stored(protocol):
        raise Refusal(
            UNAVAILABLE,
            _("The auction protocol is being prepared. Try again in a minute."),
            headers={"Retry-After": "30"},
        )
    return stored_pdf(request, protocol, f"{protocol.number}.pdf", "public, no-cache")


def add_template_globals(event) -> None:
    """``auction_step(tender)`` in every template: the minimum step as the pages state it."""
    request = event.get("request")
    if request is not None:
        event["auction_step"] = lambda tender: auctions.step_text(tender, locale_name(request))


def includeme(config) -> None:
    auctions.timing(config.get_settings())  # a bad setting stops the start, not an opening
    config.add_subscriber(add_template_globals, BeforeRender)
    tender = {"factory": "portal.procurement.resources.tender_factory"}
    config.add_route("tender_auction", "/tenders/{reference}/auction", **tender)
    config.add_route("tender_auction_step", "/tenders/{reference}/auction/step", **tender)
    config.add_route("tender_auction_status", "/tenders/{reference}/auction.json", **tender)
    config.add_route(
        "tender_auction_protocol", "/tenders/{reference}/auction/protocol.pdf", **tender
    )
    config.include("portal.procurement.auction_protocol")
