"""What the auction tests share: a tender opened into its auction with short test timings,
the bidders' browsers on the auction page, and moving the clock into a bidder's slot."""

from __future__ import annotations

import datetime as dt
import re

import webtest
from sqlalchemy import select

from portal.procurement.models import Auction, AuctionStep
from tests.functional.procurement.after_opening import Opened, browser, opened_tender

#: the auction starts this long after the opening, and each slot lasts this long, in tests
DELAY_MINUTES = 5
SLOT_SECONDS = 60
ORGANISATIONS = ("Northwind", "Southgate", "Eastbridge", "NW-100200", "SG-300400", "EB-500600")


def auction_tender(wsgi_app, devidp, sandbox, dbsession, clock, monkeypatch, **options) -> Opened:
    """``opened_tender(..., auction=True)`` with the test timings in the app's settings; the
    representatives sign in again after the opening (their bidding sessions went idle)."""
    settings = wsgi_app.registry.settings
    monkeypatch.setitem(settings, "procurement.auction_delay_minutes", str(DELAY_MINUTES))
    monkeypatch.setitem(settings, "procurement.auction_slot_seconds", str(SLOT_SECONDS))
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, auction=True, **options)
    for persona, bidder in made.bidders.items():
        bidder.app = browser(wsgi_app, devidp, persona)
    return made


def auction_of(dbsession, made: Opened) -> Auction:
    dbsession.expire_all()
    return dbsession.scalars(select(Auction).where(Auction.tender_id == made.tender.id)).one()


def label_of(dbsession, made: Opened, persona: str) -> str:
    bid = made.bid(dbsession, persona)
    return next(b.label for b in auction_of(dbsession, made).bidders if b.bid_id == bid.id)


def at_slot(clock, auction: Auction, round_number: int, position: int, seconds: int = 10):
    """Move the clock ``seconds`` into the ``position``-th slot (0 first) of a round."""
    slots = len(auction.bidders) * (round_number - 1) + position
    clock.set(auction.starts_at + dt.timedelta(seconds=slots * auction.slot_seconds + seconds))


def app_of(made: Opened, persona: str) -> webtest.TestApp:
    return made.bidders[persona].app


def auction_url(made: Opened, tail: str = "") -> str:
    return f"/tenders/{made.tender.reference}/auction{tail}"


def step(made: Opened, persona: str, price: str | None = None, status: int = 303):
    """``persona`` lowers their price to ``price`` on the auction page (None: keeps it)."""
    page = app_of(made, persona).get(auction_url(made), status=200)
    form = page.forms["step-form"]
    form["price"] = price or ""
    return form.submit("action", value="lower" if price else "keep", status=status)


def steps(dbsession, made: Opened) -> list[tuple[int, str, int, bool]]:
    """Every recorded step as (round, label, price, kept), in the order stamped."""
    dbsession.expire_all()
    auction = auction_of(dbsession, made)
    return [
        (s.round, s.bidder.label, s.price_minor, s.kept)
        for s in dbsession.scalars(
            select(AuctionStep)
            .where(AuctionStep.auction_id == auction.id)
            .order_by(AuctionStep.at, AuctionStep.id)
        )
    ]


def token(app: webtest.TestApp) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', app.get("/").text)
    assert match is not None
    return match.group(1)


def refusal_text(response) -> str:
    """The page's error alert, as text."""
    return " ".join(response.html.select_one("#form-errors").get_text(" ").split())
