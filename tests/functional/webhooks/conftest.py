"""Webhooks as a service's administrator and its receiver meet them: the portal's pages, and
the reference receiver (bench/webhook_receiver.py) as a real HTTP server on a local port."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading

import pytest
from sqlalchemy import select

import portal
from bench.webhook_receiver import Receiver, serve
from portal.clock import clock as app_clock
from portal.services.webhooks.listening import ACTIVATION
from portal.services.webhooks.models import WebhookDelivery
from tests import factories
from tests.functional.billing.conftest import ana, ana_bills, payer  # noqa: F401 (fixtures)

SAME_ORIGIN = {"Referer": "https://localhost/backoffice/webhooks"}


@pytest.fixture(scope="package")
def wsgi_app(app_settings, keys_dir):
    """The app with development receivers allowed: plain http to a receiver on localhost."""
    from portal.identity.saml import config_metadata

    app = portal.main({}, **{**app_settings, "webhooks.development_receivers": "true"})
    (keys_dir / "sp-metadata.xml").write_bytes(config_metadata(app.registry["saml"]))
    return app


@contextlib.contextmanager
def running(receiver: Receiver, port: int = 0, tls: ssl.SSLContext | None = None):
    """``receiver`` answering on ``port`` (any free one if 0) until the block ends, over TLS
    with ``tls``."""
    server = serve(receiver, "127.0.0.1", port)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    """A local port nothing listens on (a receiver that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="package")
def localhost_certificate(tmp_path_factory):
    """A self-signed certificate for ``localhost``: (its file, a server context using it)."""
    from cryptography import x509

    from portal.selfsigned import ensure_self_signed

    folder = tmp_path_factory.mktemp("tls")
    key, cert = ensure_self_signed(
        folder / "localhost.key",
        folder / "localhost.crt",
        "localhost",
        [(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)],
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.fixture
def tax_service(dbsession, departments):
    service = factories.service(dbsession, "property-tax")
    dbsession.commit()
    return service


@pytest.fixture
def clara(signed_in, tax_service):
    """A clerk of the revenue office, which owns the property tax."""
    return signed_in("clerk-clara")


@pytest.fixture(autouse=True)
def _movable_clock(clock):
    """Every test here may let time pass (an endpoint hears events only from a while after it
    is added, see portal.services.webhooks.listening)."""
    return clock


def add_endpoint(
    app, url: str, events=("bill.paid", "bill.partly_paid", "payment.refunded", "bill.cancelled")
):
    """Register ``url`` on the property tax's page and let the time pass until it hears
    events; returns the secret shown once."""
    form = app.get("/backoffice/services/property-tax/webhooks").forms["endpoint-form"]
    form["url"] = url
    for checkbox in form.fields["events"]:
        checkbox.checked = checkbox._value in events
    page = form.submit(headers=SAME_ORIGIN, status=200)
    assert page.headers["Cache-Control"] == "no-store"
    app_clock(app.app.registry).advance(seconds=ACTIVATION.total_seconds())
    return re.search(r'<code id="secret">(whsec_[^<]+)</code>', page.text).group(1)


def deliveries(dbsession) -> list[WebhookDelivery]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
