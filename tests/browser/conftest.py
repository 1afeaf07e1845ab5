"""A real portal and a real development IdP served over HTTP, for a real browser.

The portal answers on ``localhost`` and the IdP on ``127.0.0.1``: to the browser these are two
sites, so the IdP's POST to the ACS is cross-site exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from waitress.server import create_server

import portal
from portal.devidp.app import DevIdPApp
from portal.devidp.idp import DevIdP
from portal.identity.saml import config_metadata

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
#: ``--headless`` and ``--user-data-dir`` are given by Playwright (``headless=True``, persistent
#: context); these keep Chromium from calling home or updating itself during the test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
#: the auction of :func:`running_auction`: each bidder's slot, and the prices it starts from
AUCTION_SLOT_SECONDS = 60
AUCTION_PRICES = {"Northwind Supplies Ltd": 182_400_00, "Southgate Builders Ltd": 176_950_00}


class LiveServer:
    """A WSGI application served by waitress from a thread, on a free port of 127.0.0.1.

    The port is known before the application exists, since both SAML parties put their own
    URL into their metadata.
    """

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self._map: dict = {}
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self, app) -> None:
        self._server = create_server(app, map=self._map, sockets=[self.socket], threads=4)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            self.socket.close()
            return
        # The server's loop ends once every channel in its map is closed.
        while self._map:
            for channel in list(self._map.values()):
                channel.handle_close()
        self._server.task_dispatcher.shutdown()
        self._thread.join(timeout=5)


@dataclass
class Deployment:
    portal_url: str
    idp_url: str
    idp: DevIdP


@pytest.fixture(scope="module")
def deployment(app_settings, tmp_path_factory) -> Iterator[Deployment]:
    """The portal on ``http://localhost:<port>`` and the dev IdP on ``http://127.0.0.1:<port>``."""
    state = tmp_path_factory.mktemp("browser-saml")
    portal_server, idp_server = LiveServer(), LiveServer()
    portal_url = f"http://localhost:{portal_server.port}"
    idp_url = f"http://127.0.0.1:{idp_server.port}"
    sp_metadata = state / "sp-metadata.xml"
    try:
        idp = DevIdP(state / "idp", idp_url, str(sp_metadata))
        settings = {
            **app_settings,
            "portal.base_url": portal_url,
            "portal.secure_cookies": "false",
            "portal.hsts": "false",
            "saml.idp_metadata": str(idp.metadata_path),
            # the sandbox notifies this portal directly, as a provider would
            "billing.notify_base_url": portal_url,
        }
        app = portal.main({}, **settings)
        sp_metadata.write_bytes(config_metadata(app.registry["saml"]))
        portal_server.start(app)
        idp_server.start(DevIdPApp(idp))
        yield Deployment(portal_url, idp_url, idp)
    finally:
        portal_server.stop()
        idp_server.stop()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture
def open_browser(playwright, engine, tmp_path):
    """A factory: ``open_browser(javascript=False)`` starts Debian's Chromium with a fresh
    profile and returns its first page. ``engine`` empties the tables after the test."""
    contexts = []

    def open_(javascript: bool = True):
        profile = tmp_path / f"chromium-profile-{len(contexts)}"
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            java_script_enabled=javascript,
            viewport={"width": 1024, "height": 768},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.pages[0] if context.pages else context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """A function saving the page to ``var/screenshots/<name>.png`` for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def sign_in(page, deployment, persona_name: str, path: str) -> None:
    """Sign ``persona_name`` in at the development IdP from ``path``, as a person would with
    JavaScript off, and check that the portal brought them back to ``path``."""
    from playwright.sync_api import expect

    page.goto(f"{deployment.portal_url}{path}")
    page.get_by_role("radio", name=re.compile(rf"^{persona_name}")).check()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Continue").click()  # no JavaScript: the visible button
    expect(page).to_have_url(f"{deployment.portal_url}{path}")


@pytest.fixture
def demo_world(deployment, wsgi_app, dbsession):
    """The demo data ``make run`` shows, its people signing in through this test's IdP."""
    from sqlalchemy import update

    from portal.clock import clock as app_clock
    from portal.identity.models import User
    from portal.scripts.demo_data import load
    from portal.tasks import task_dbsession

    registry = wsgi_app.registry
    with task_dbsession(registry) as session:  # its own transaction, as the command's
        load(
            session,
            registry["pii_vault"],
            registry["saml"].attributes,
            app_clock(registry),
            registry,
        )
        session.execute(update(User).values(idp_entity_id=deployment.idp.entity_id))


@pytest.fixture
def running_auction(dbsession):
    """A tender whose auction began five seconds ago (real time: the served portal reads the
    real clock): Bidder A (Northwind, the higher price) is called first."""
    from portal.identity.models import Organisation
    from portal.procurement import auction as auctions
    from portal.procurement import state
    from portal.procurement.models import (
        AUCTION_SCHEDULED,
        Auction,
        AuctionBidder,
        Bid,
        BidVersion,
    )
    from tests import factories

    now = dt.datetime.now(dt.UTC)
    tender = factories.tender(dbsession, now=now - dt.timedelta(days=11), deposit=0, bid_fee=0)
    tender.auction_enabled, tender.auction_step_minor = True, 1_000_00
    olga = factories.user(dbsession, "rep-olga")
    for step, to in enumerate((state.BIDDING, state.AWAITING_OPENING, state.OPENED)):
        state.transition(dbsession, tender, to, now=now - dt.timedelta(hours=3 - step))
    tender.opened_at = now - dt.timedelta(hours=1)
    bidders = []
    for position, (name, price) in enumerate(AUCTION_PRICES.items()):
        organisation = Organisation(registration_number=f"REG-{position}", name=name)
        bid = Bid(
            tender=tender,
            organisation=organisation,
            status="submitted",
            created_by=olga,
            created_at=now - dt.timedelta(days=2),
            updated_at=now - dt.timedelta(days=2),
        )
        bid.versions = [
            BidVersion(
                number=1,
                status="submitted",
                sealed=b"sealed",
                sha256="0" * 64,
                submitted_at=now - dt.timedelta(days=2, minutes=position),
                submitted_by=olga,
                tender_version=1,
                opened_price_minor=price,
            )
        ]
        bidders.append(
            AuctionBidder(
                bid=bid,
                label=auctions.label(position),
                initial_price_minor=price,
                price_minor=price,
            )
        )
    starts_at = now - dt.timedelta(seconds=5)
    dbsession.add(
        Auction(
            tender=tender,
            status=AUCTION_SCHEDULED,
            rounds=3,
            starts_at=starts_at,
            slot_seconds=AUCTION_SLOT_SECONDS,
            ends_at=starts_at
            + dt.timedelta(seconds=3 * len(AUCTION_PRICES) * AUCTION_SLOT_SECONDS),
            bidders=bidders,
        )
    )
    state.transition(dbsession, tender, state.AUCTION, now=now - dt.timedelta(minutes=30))
    dbsession.commit()
    return tender
