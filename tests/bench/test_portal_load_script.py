"""``bench/portal_load.lua`` drives the portal as ``bench/pay_flow.py``'s Python client does,
so its figures are a payment's: wrk runs it here against a stand-in for the portal that
checks each request as the portal would (the session cookie, the CSRF token and Origin, a
fresh Idempotency-Key, the bill paid once) and verifies the notification's signature with the
portal's own sandbox provider. Needs wrk, which ``make test`` installs (or names) as ``make
bench`` does; run without it, the benchmark falls back to its Python client."""

import datetime as dt
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from portal.billing.models import new_public_id
from portal.billing.providers import InvalidNotification
from portal.billing.providers.sandbox import SandboxProvider
from tests.bench.test_benchmarks_run import ROOT

pytestmark = [
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
    pytest.mark.once,  # no database: .ci/run's PostgreSQL pass need not run them again
]

COOKIE = "portal_session=abc123"
CSRF = "token/with+symbols="


class Session:
    """What one wrk connection's session does: the form fields, the cookie and the rest."""

    def __init__(self, secret: str):
        self.provider = SandboxProvider("http://127.0.0.1:9", "m", "k", secret)
        self.lock = threading.Lock()
        self.paid: dict[str, int] = {}  # bill public id: times a payment of it was made
        self.payments: dict[str, tuple[str, int]] = {}  # payment id: bill, amount
        self.keys: set[str] = set()
        self.settled: list[str] = []
        self.refused: list[str] = []
        self.amounts: dict[str, int] = {}
        self.gets = 0


def stand_in(session: Session) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the portal behind its proxy

        def log_message(self, *args):
            pass

        def answer(self, status: int, location: str = "", body: bytes = b"") -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def refuse(self, why: str) -> None:
            with session.lock:
                session.refused.append(why)
            self.answer(400, body=why.encode())

        def do_GET(self):
            with session.lock:
                session.gets += 1
            self.answer(200, body=b"ok")

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers["Host"] != "localhost" or self.headers["X-Forwarded-Proto"] != "https":
                return self.refuse("not through the proxy")
            if self.path == "/billing/notifications/sandbox":
                return self.notification(body)
            if self.headers.get("Cookie") != COOKIE:
                return self.refuse("no session")
            if self.headers.get("Origin") != "https://localhost":
                return self.refuse("cross-origin")
            form = parse_qs(body.decode())
            if form.get("csrf_token") != [CSRF]:
                return self.refuse(f"CSRF token {form.get('csrf_token')}")
            if self.path == "/bills/pay":
                key = self.headers.get("Idempotency-Key", "")
                (bill,) = form["only"]
                with session.lock:
                    reused = key in session.keys
                    session.keys.add(key)
                if not 16 <= len(key) <= 128 or reused:
                    return self.refuse(f"Idempotency-Key {key!r}")
                with session.lock:
                    session.paid[bill] = session.paid.get(bill, 0) + 1
                    payment = f"pay{len(session.payments)}"
                    session.payments[payment] = (bill, session.amounts[bill])
                return self.answer(303, f"https://localhost/payments/{payment}/checkout")
            payment = self.path.split("/")[2]
            if self.path != f"/payments/{payment}/checkout" or payment not in session.payments:
                return self.refuse(f"no checkout at {self.path}")
            return self.answer(303, f"http://127.0.0.1:9/pay/psp_{payment}")

        def notification(self, body: bytes) -> None:
            if "Cookie" in self.headers:
                return self.refuse("the provider has no session")
            try:
                event = session.provider.parse_notification(
                    self.headers, body, dt.datetime.now(dt.UTC)
                )
            except InvalidNotification as refused:
                return self.refuse(f"notification: {refused}")
            report = event.payment
            bill, amount = session.payments[report.reference]
            if (
                event.type != "payment.succeeded"
                or report.provider_payment_id != f"psp_{report.reference}"
                or report.amount.minor != amount
                or report.status != "succeeded"
            ):
                return self.refuse(f"notification {event}")
            with session.lock:
                session.settled.append(bill)
            self.answer(200, body=json.dumps({"status": "processed"}).encode())

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # wrk drops its connections at the end of a run

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def pay_flow(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import pay_flow

    monkeypatch.setattr(pay_flow, "WARMUP_SECONDS", 1.0)  # wrk's shortest run
    return pay_flow


def signed_in(pay_flow):
    client = pay_flow.Client(0)
    client.cookies = dict([COOKIE.split("=", 1)])
    client.csrf_token = CSRF
    return client


def paid_by_wrk(pay_flow, bills: int, threads: int, tmp_path):
    """``bills`` bills paid for 1 s (after a 1 s warm-up) by ``threads`` wrk threads: the
    stand-in's session, the load and the pool of bills left."""
    session = Session(pay_flow.SIGNING_SECRET)
    # bills' public ids as the portal makes them (portal.billing.models.new_public_id)
    session.amounts = {new_public_id(): 1000 + n for n in range(bills)}
    pool = list(session.amounts.items())
    server = stand_in(session)
    clients = [signed_in(pay_flow) for _ in range(threads)]
    try:
        load = pay_flow.pay_wrk(
            server.server_port, clients, pool, threading.Lock(), 1, [], tmp_path
        )
    finally:
        server.shutdown()
    return session, load, pool


def test_payments_are_made_as_the_portal_expects_them(pay_flow, tmp_path):
    session, load, pool = paid_by_wrk(pay_flow, 3000, 2, tmp_path)
    assert session.refused == []
    assert load.errors == []
    assert load.count > 10
    # each bill paid once; what was handed out and not paid is back in the pool, but for a
    # payment a thread had under way when its run (the warm-up, then the measured one) ended
    assert set(session.paid.values()) == {1}
    kept = set(session.amounts) - {bill for bill, _ in pool}
    assert set(session.paid) <= kept
    assert len(kept - set(session.paid)) <= load.cut_off <= 2 * 2
    assert len(session.settled) >= load.count
    assert sorted(load.steps) == [
        "POST /billing/notifications/sandbox",
        "POST /bills/pay",
        "POST /payments/<id>/checkout",
    ]
    assert len(load.measured) == load.count > 0


def test_an_unexpected_answer_is_counted_as_an_error(pay_flow, tmp_path):
    session = Session(pay_flow.SIGNING_SECRET)
    server = stand_in(session)
    try:
        right = pay_flow.WrkLoad(
            "get", server.server_port, [None], lambda n, s: ["/x 200 2 - ok 1"], 1, [], tmp_path
        )
        wrong = pay_flow.WrkLoad(
            "get", server.server_port, [None], lambda n, s: ["/x 200 3 - - -"], 1, [], tmp_path
        )
    finally:
        server.shutdown()
    assert right.count > 0 and right.errors == []
    assert wrong.count == 0
    assert "GET /x: 2 bytes" in wrong.errors
    assert any(error.endswith(" failed") for error in wrong.errors)


def test_a_thread_that_paid_all_its_bills_stops(pay_flow, tmp_path):
    session, load, pool = paid_by_wrk(pay_flow, 5, 1, tmp_path)
    # the 1 s warm-up pays all five (a payment takes a few ms here): none is left to measure
    assert load.exhausted and load.count == 0
    assert session.refused == [] and set(session.paid.values()) == {1}
    assert len(session.settled) == len(session.paid) == 5 and pool == []
    # each run's thread stops once it has no bill, rather than send requests that are no
    # payment's for the rest of the run (hundreds): a few go out as it stops
    assert session.gets <= 4
