"""The demo's payers pay as people do: a payment of their bills at the configured provider
(the sandbox), its hosted page given the sandbox's test card, and the provider's answer
applied. So every fee, security and complaint fee of the demo is a real payment with its
ledger entries, and the sandbox knows each payment when a security is given back later.

``make run`` loads the demo before it starts the sandbox's process: :func:`sandbox_serving`
serves the sandbox from this process meanwhile, on its configured port and database file.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
import waitress
from pyramid.interfaces import IRoutesMapper

from portal.billing import (
    apply_report,
    create_payment,
    payment_provider,
    payment_timeout,
    start_payment,
)
from portal.billing.models import Bill
from portal.sandbox.app import make_app

#: the sandbox's card that always succeeds, without a challenge
TEST_CARD = {
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
    "cvc": "123",
    "cardholder_name": "Demo Payer",
}
SANDBOX_PROVIDER = "portal.billing.providers.sandbox.SandboxProvider"


def _path(registry, route: str, **parts: str) -> str:
    return registry.getUtility(IRoutesMapper).get_route(route).generate(parts)


def pay(dbsession, registry, bills: list[Bill], *, user, organisation, now: dt.datetime) -> None:
    """``user`` pays ``bills`` for ``organisation`` at ``now`` (a moment of the demo's past;
    the provider itself takes the card today)."""
    provider = payment_provider(registry)
    settings = registry.settings
    payment = create_payment(
        dbsession,
        user=user,
        bill_ids=[bill.id for bill in bills],
        idempotency_key="demo-payment-" + "-".join(f"{bill.id:06d}" for bill in bills),
        provider=provider.name,
        timeout=payment_timeout(settings),
        now=now,
        organisation=organisation,
    )
    base = settings["portal.base_url"].rstrip("/")
    notify = (settings.get("billing.notify_base_url") or base).rstrip("/")
    hosted = start_payment(
        payment,
        provider,
        description="Payment to the public services",
        return_url=base + _path(registry, "payment_return", public_id=payment.public_id),
        notify_url=notify + _path(registry, "provider_notification", provider=provider.name),
        now=now,
    )
    answer = requests.post(hosted, data=TEST_CARD, allow_redirects=False, timeout=10)
    if answer.status_code != 303:
        raise RuntimeError(f"the sandbox did not take the demo card: HTTP {answer.status_code}")
    report = provider.query_payment(payment.public_id)
    apply_report(dbsession, payment, report, "demo data: the provider's answer to a query", now)


def _answers(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@contextmanager
def sandbox_serving(settings) -> Iterator[None]:
    """The configured sandbox, served from this process while the block runs unless a
    sandbox already answers on its port (another provider, or a remote one: nothing done)."""
    base_url = settings.get("billing.sandbox.base_url") or ""
    parts = urlsplit(base_url)
    if (
        settings.get("billing.provider") != SANDBOX_PROVIDER
        or parts.hostname not in ("localhost", "127.0.0.1")
        or parts.port is None
        or _answers("127.0.0.1", parts.port)
    ):
        yield
        return
    app = make_app(
        {
            "base_url": base_url,
            "merchant_id": settings["billing.sandbox.merchant_id"],
            "api_key": settings["billing.sandbox.api_key"],
            "signing_secret": settings["billing.sandbox.signing_secret"],
        }
    )
    server = waitress.create_server(app, host="127.0.0.1", port=parts.port)
    thread = threading.Thread(target=server.run, name="demo-sandbox", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.close()
        app.registry.notifier.stop()
