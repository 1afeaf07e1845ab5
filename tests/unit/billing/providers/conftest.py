"""The real sandbox PSP on a free port, a notification receiver, and a provider set up for it."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import waitress
from waitress import wasyncore

from portal.billing.providers.sandbox import SandboxProvider
from portal.sandbox.app import make_app

SECRET = "test-signing-secret"
SANDBOX_SETTINGS = {
    "merchant_id": "test-merchant",
    "api_key": "test-api-key",
    "signing_secret": SECRET,
    "duplicate_rate": 0,
    "reorder_rate": 0,
    "retry_base_delay": 0.05,
    "retry_max_delay": 0.4,
    "delivery_timeout": 2,
    "seed": 7,
}


def serve(handler_class) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    return server


class Receiver:
    """The portal's notification endpoint, reduced to recording what arrives."""

    def __init__(self):
        self.deliveries = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def sandbox_url(tmp_path):
    """Base URL of a running sandbox with a fresh database."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = make_app(
        {**SANDBOX_SETTINGS, "base_url": base_url, "db_path": str(tmp_path / "sandbox.db")}
    )
    server = waitress.create_server(app, sockets=[sock], threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield base_url
    app.registry.notifier.stop()
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(5)
    server.task_dispatcher.shutdown()


@pytest.fixture
def make_provider():
    """A provider with the sandbox account's credentials; keywords override any of them."""

    def make(base_url, **overrides) -> SandboxProvider:
        credentials = {
            "merchant_id": SANDBOX_SETTINGS["merchant_id"],
            "api_key": SANDBOX_SETTINGS["api_key"],
            "signing_secret": SECRET,
        }
        return SandboxProvider(base_url, **{**credentials, **overrides})

    return make


@pytest.fixture
def provider(sandbox_url, make_provider):
    return make_provider(sandbox_url)


@pytest.fixture
def pay():
    """What the payer's browser posts on the hosted page; the sandbox answers with a redirect."""

    def post(hosted_url: str, number: str) -> None:
        form = {"card_number": number, "expiry": "12/39", "cvc": "123", "cardholder_name": "A"}
        response = requests.post(hosted_url, data=form, allow_redirects=False, timeout=5)
        assert response.status_code == 303, response.text

    return post


@pytest.fixture
def fake_psp():
    """A misbehaving provider: every request waits `delay` seconds, then gets `status` and `body`
    (by default a problem document)."""
    servers = []

    def start(status: int, delay: float = 0, body: dict | None = None) -> str:
        content = json.dumps(body or {"status": status, "code": "internal", "detail": "oops"})

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/problem+json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content.encode())

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        servers.append(serve(Handler))
        return f"http://127.0.0.1:{servers[-1].server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
