"""Run the sandbox provider over real HTTP, with a receiver that records its notifications."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import waitress
from waitress import wasyncore

from portal.sandbox.app import make_app

API_KEY = "test-api-key"
MERCHANT_ID = "test-merchant"
SECRET = "test-signing-secret"
FAST_SETTINGS = {
    "merchant_id": MERCHANT_ID,
    "api_key": API_KEY,
    "signing_secret": SECRET,
    "duplicate_rate": 0,
    "reorder_rate": 0,
    "reorder_delay": 0.5,
    "retry_base_delay": 0.05,
    "retry_max_delay": 0.4,
    "delivery_timeout": 2,
    "seed": 7,
}
SUCCESS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"
CHALLENGE = "4000 0000 0000 3220"
SILENT = "4000 0000 0000 0077"


def wait_until(condition, timeout=5.0):
    """Poll until `condition()` is truthy; its value, or a failed test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"gave up waiting after {timeout} s")


class Receiver:
    """A merchant's notification endpoint: records every POST, answers 500 while told to fail."""

    def __init__(self):
        self.deliveries = []
        self.failures_left = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= failing
                    receiver.deliveries.append(
                        {
                            "body": body,
                            "headers": dict(self.headers),
                            "at": time.monotonic(),
                            "answered": 500 if failing else 204,
                        }
                    )
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def events(self, accepted_only=True):
        with self.lock:
            return [
                json.loads(d["body"])
                for d in self.deliveries
                if d["answered"] == 204 or not accepted_only
            ]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Sandbox:
    """A running sandbox provider and the calls a merchant and a payer make to it."""

    def __init__(self, settings, receiver):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.receiver = receiver
        self.app = make_app({**settings, "base_url": self.base_url})
        self.server = waitress.create_server(self.app, sockets=[sock], threads=4)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {settings['api_key']}"
        self.browser = requests.Session()
        self.closed = False

    def payment_body(self, **fields):
        return {
            "merchant_id": MERCHANT_ID,
            "reference": "pay-1",
            "amount": 1250,
            "currency": "EUR",
            "description": "Residential parking permit",
            "return_url": "http://portal.test/payments/return?lang=en",
            "notify_url": self.receiver.url,
            **fields,
        }

    def create_payment(self, **fields):
        return self.api.post(f"{self.base_url}/v1/payments", json=self.payment_body(**fields))

    def new_payment(self, **fields):
        response = self.create_payment(**fields)
        assert response.status_code == 201, response.text
        return response.json()

    def status(self, payment_id):
        return self.api.get(f"{self.base_url}/v1/payments/{payment_id}").json()

    def pay(self, payment, number=SUCCESS, **fields):
        form = {
            "card_number": number,
            "expiry": "12/39",
            "cvc": "123",
            "cardholder_name": "A Payer",
        }
        return self.browser.post(
            payment["hosted_url"], data={**form, **fields}, allow_redirects=False
        )

    def answer_challenge(self, payment, code):
        return self.browser.post(
            f"{payment['hosted_url']}/challenge", data={"code": code}, allow_redirects=False
        )

    def paid_payment(self, **fields):
        payment = self.new_payment(**fields)
        assert self.pay(payment).status_code == 303
        return payment

    def refund(self, payment_id, amount, reference):
        return self.api.post(
            f"{self.base_url}/v1/payments/{payment_id}/refunds",
            json={"amount": amount, "reference": reference},
        )

    def _close_connections(self):
        """Run inside waitress's loop thread: closing sockets from elsewhere races its select()."""
        wasyncore.close_all(self.server._map)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.api.close()
        self.browser.close()
        self.app.registry.notifier.stop()
        try:
            self.server.trigger.pull_trigger(self._close_connections)
        except OSError:  # the loop already closed its trigger: nothing is left to wake
            self._close_connections()
        self.thread.join(5)
        self.server.task_dispatcher.shutdown()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def start_sandbox(tmp_path, receiver):
    """Start a sandbox on a fresh database; keyword arguments override the fast test settings."""
    started = []

    def start(**overrides):
        settings = {"db_path": str(tmp_path / "sandbox.db"), **FAST_SETTINGS, **overrides}
        started.append(Sandbox(settings, receiver))
        return started[-1]

    yield start
    for sandbox in started:
        sandbox.close()


@pytest.fixture
def sandbox(start_sandbox):
    return start_sandbox()
