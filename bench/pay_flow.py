"""Benchmark: completed payments per second, and the "my bills" page against table size.

Run: ``.venv/bin/python bench/pay_flow.py [--seconds 10] [--large 1000000]``

Self-contained: creates its own PostgreSQL databases (``--pg``, trust auth), builds the portal's
schema with ``alembic upgrade head``, starts the sandbox provider, the portal and a baseline app
each in its own waitress subprocess (``bench/serve.py``, production.ini's ``[server:main]``, the
portal through ``egg:portal`` → ``portal.main({}, **settings)``), drives them from this process,
then stops everything and drops the databases.

1. Payments per second. One iteration is what a real payment costs the portal: ``POST
   /bills/pay`` (signed-in session, CSRF token, fresh ``Idempotency-Key``), ``POST
   /payments/<id>/checkout`` (the review page's "Pay": the portal starts the payment at the
   sandbox over HTTP; the review and hosted pages themselves are skipped), and a
   ``payment.succeeded`` notification signed with the sandbox's scheme, whose processing posts
   the settlement to the ledger. The baseline is a minimal Pyramid view on the same stack doing
   one INSERT per request, same server config, same load.
2. ``GET /bills`` latency for a payer with 20 bills while the table holds ``--small`` and then
   ``--large`` other payers' bills (bulk-inserted in SQL, ledger entries included), with
   EXPLAIN ANALYZE of the exact statements the page ran at each size.
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from alembic.config import Config
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select

import portal.models  # noqa: F401  (all models, in an order free of import cycles)
from alembic import command
from portal.billing import BillLineInput, issue_bill
from portal.billing.reference import creditor_reference
from portal.catalogue.models import Service
from portal.db import get_session_factory
from portal.devidp.idp import LOA_SUBSTANTIAL, DevIdP
from portal.identity.models import Department, User
from portal.money import Money
from portal.selfsigned import ensure_self_signed
from portal.settings import ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "localhost"
BASE_URL = f"https://{HOST}"
IDP_ENTITY = "https://idp.test"
MERCHANT_ID = "bench-merchant"
API_KEY = "bench-api-key-" + secrets.token_hex(8)
SIGNING_SECRET = "bench-signing-secret-" + secrets.token_hex(16)
#: what the reverse proxy in front of waitress adds (production.ini trusts 127.0.0.1)
PROXY_HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
SERVICES = [
    ("property-tax", "Property tax"),
    ("waste-fee", "Waste collection fee"),
    ("parking-permit", "Parking permit"),
    ("dog-licence", "Dog licence"),
    ("building-permit", "Building permit fee"),
]
PAY_PERSONA = "citizen-ben"
PAGE_PERSONA = "citizen-ana"
PAGE_BILLS = 20
WARMUP_SECONDS = 2.0
HITS = itertools.count()


# Processes and HTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A subprocess serving HTTP on 127.0.0.1:``port``; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], port: int, logs: Path, health: str):
        self.name = name
        self.port = port
        self.log_path = logs / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT}
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.tail()}")
            try:
                status, _, _ = Client(port).request("GET", health)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{name} did not start:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client:
    """One keep-alive connection with its own cookies, as a browser behind the proxy."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""

    def request(self, method, path, body=None, headers=None):
        headers = {**PROXY_HEADERS, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.connection.close()
                if attempt == 2:
                    raise
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.partition(";")[0]
            if value and "max-age=0" not in cookie.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response.status, response.msg, data

    def post_form(self, path, fields, headers=None):
        return self.request(
            "POST",
            path,
            urlencode(fields),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": BASE_URL,
                **(headers or {}),
            },
        )


def sign_in(port: int, idp: DevIdP, persona: str) -> Client:
    """The whole SP-initiated SAML sign-in through the dev IdP, then the CSRF token."""
    client = Client(port)
    status, headers, _ = client.request("GET", "/saml/login?next=/bills")
    assert status == 303, status
    acs_url, saml_response, relay_state = idp.respond(headers["Location"], persona, LOA_SUBSTANTIAL)
    status, _, body = client.post_form(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state or ""}
    )
    assert status == 303, (status, body[:500])
    status, _, page = client.request("GET", "/bills")
    assert status == 200, status
    client.csrf_token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    return client


# Load generation


class Load:
    """``clients`` threads each running ``iteration(state)`` in a loop; what completes inside
    the measured window (after a warm-up) counts. An iteration may return per-step timings;
    ``False`` means there is nothing left to do. The CPU time each of ``servers`` spends in the
    window is sampled too."""

    def __init__(self, states, iteration, seconds, servers=(), warmup=WARMUP_SECONDS):
        self.done: list[tuple[float, float, dict | None]] = []
        self.errors: list[str] = []
        self.exhausted = False
        self.cpu: dict[str, float] = {}
        lock = threading.Lock()
        start = time.perf_counter()
        self.window = (start + warmup, start + warmup + seconds)

        def work(state):
            while time.perf_counter() < self.window[1]:
                began = time.perf_counter()
                try:
                    steps = iteration(state)
                except Exception as error:  # noqa: BLE001 (reported with the results)
                    with lock:
                        self.errors.append(repr(error))
                    continue
                if steps is False:
                    self.exhausted = True
                    return
                ended = time.perf_counter()
                with lock:
                    self.done.append((ended, ended - began, steps))

        def sample_cpu():
            time.sleep(max(0.0, self.window[0] - time.perf_counter()))
            before = {server.name: server.cpu_seconds() for server in servers}
            busy, total = machine_cpu()
            time.sleep(max(0.0, self.window[1] - time.perf_counter()))
            for server in servers:
                self.cpu[server.name] = server.cpu_seconds() - before[server.name]
            busy_after, total_after = machine_cpu()
            self.machine_busy = (busy_after - busy) / max(1, total_after - total)

        threads = [threading.Thread(target=work, args=(state,)) for state in states]
        threads.append(threading.Thread(target=sample_cpu))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        inside = [d for d in self.done if self.window[0] <= d[0] <= self.window[1]]
        self.measured = [latency for _, latency, _ in inside]
        self.steps: dict[str, list[float]] = {}
        for _, _, steps in inside:
            for name, value in (steps or {}).items():
                self.steps.setdefault(name, []).append(value)
        self.count = len(inside)
        self.rate = self.count / seconds

    def percentile(self, p: float) -> float:
        return quantile(self.measured, p)

    def cpu_ms_per_iteration(self, server: str) -> float:
        return 1000 * self.cpu.get(server, float("nan")) / max(1, self.count)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def quantile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def signed_notification(data: dict) -> tuple[bytes, dict]:
    """A ``payment.succeeded`` event as the sandbox sends it: ``Sandbox-Signature: t=<ts>,
    v1=<hex HMAC-SHA256(secret, b"<t>." + body)>``."""
    now = int(time.time())
    body = json.dumps(
        {
            "event_id": "evt_" + secrets.token_hex(12),
            "type": "payment.succeeded",
            "created": now,
            "data": data,
        }
    ).encode()
    mac = hmac.new(SIGNING_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Sandbox-Signature": f"t={now},v1={mac}"}


def pay_one(client: Client, bills: list, lock: threading.Lock):
    """Pay one bill: create the payment, start it at the sandbox, deliver its success."""
    with lock:
        if not bills:
            return False
        public_id, amount = bills.pop()
    steps = {}
    began = time.perf_counter()
    status, headers, body = client.post_form(
        "/bills/pay",
        {"csrf_token": client.csrf_token, "only": public_id},
        {"Idempotency-Key": uuid.uuid4().hex},
    )
    if status != 303 or not headers["Location"].endswith("/checkout"):
        raise RuntimeError(f"pay: {status} {body[:300]!r}")
    checkout = urlsplit(headers["Location"]).path
    payment_id = checkout.split("/")[2]
    steps["POST /bills/pay"], began = time.perf_counter() - began, time.perf_counter()
    status, headers, body = client.post_form(checkout, {"csrf_token": client.csrf_token})
    hosted_url = headers.get("Location", "")
    if status != 303 or "/pay/psp_" not in hosted_url:
        raise RuntimeError(f"checkout: {status} {body[:300]!r}")
    data = {
        "id": hosted_url.rsplit("/", 1)[1],
        "reference": payment_id,
        "amount": amount,
        "currency": "EUR",
        "description": "Payment to the public services",
        "status": "succeeded",
        "failure_reason": None,
        "method": {"brand": "visa", "last4": "4242"},
        "refunded_amount": 0,
        "created": int(time.time()),
        "hosted_url": hosted_url,
    }
    steps["POST /payments/<id>/checkout"] = time.perf_counter() - began
    event, event_headers = signed_notification(data)
    began = time.perf_counter()
    status, _, body = client.request("POST", "/billing/notifications/sandbox", event, event_headers)
    if status != 200 or json.loads(body)["status"] != "processed":
        raise RuntimeError(f"notification: {status} {body[:300]!r}")
    steps["POST /billing/notifications/sandbox"] = time.perf_counter() - began
    return steps


def insert_one(client: Client):
    status, _, body = client.request(
        "POST", "/hit", json.dumps({"n": next(HITS)}), {"Content-Type": "application/json"}
    )
    if status != 200:
        raise RuntimeError(f"baseline: {status} {body[:300]!r}")


# Data


def pg_url(args, database: str) -> str:
    return f"postgresql://{args.pg}/{database}"


@contextmanager
def admin(args):
    with psycopg.connect(pg_url(args, "postgres"), autocommit=True) as connection:
        yield connection


def portal_settings(url: str, tmp: Path, idp: DevIdP, sandbox_port: int, queue: str) -> dict:
    """The portal's settings for a bench run: its database, keys under ``tmp``, the dev IdP,
    the sandbox on ``sandbox_port``, and the task queue receipts are rendered from."""
    ensure_self_signed(tmp / "sp.key", tmp / "sp.crt", "Portal bench SP")
    ensure_self_signed(tmp / "signing.key", tmp / "signing.crt", "Portal bench receipts")
    return {
        "sqlalchemy.url": url,
        "portal.base_url": BASE_URL,
        "portal.pii_hmac_key": secrets.token_hex(32),
        "portal.pii_encryption_key": Fernet.generate_key().decode(),
        # as in production: receipts are rendered by workers, off the request path
        # (none runs here; the jobs are dropped with the queue at the end)
        "queue.url": queue,
        "receipts.signing_key": str(tmp / "signing.key"),
        "receipts.signing_cert": str(tmp / "signing.crt"),
        "mail.directory": str(tmp / "mail"),
        "billing.allow_sandbox": "true",
        "billing.sandbox.base_url": f"http://127.0.0.1:{sandbox_port}",
        "billing.sandbox.merchant_id": MERCHANT_ID,
        "billing.sandbox.api_key": API_KEY,
        "billing.sandbox.signing_secret": SIGNING_SECRET,
        "billing.notify_base_url": BASE_URL,
        "saml.sp_cert": str(tmp / "sp.crt"),
        "saml.sp_key": str(tmp / "sp.key"),
        "saml.idp_metadata": str(idp.metadata_path),
    }


def start_sandbox(tmp: Path, port: int) -> Server:
    """The sandbox provider, sending no duplicate or reordered notifications."""
    return Server(
        "sandbox",
        [
            PYTHON,
            "-m",
            "portal.sandbox",
            "--port",
            str(port),
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--db",
            str(tmp / "sandbox.db"),
            "--merchant-id",
            MERCHANT_ID,
            "--api-key",
            API_KEY,
            "--signing-secret",
            SIGNING_SECRET,
            "--duplicate-rate",
            "0",
            "--reorder-rate",
            "0",
        ],
        port,
        tmp,
        "/healthz",
    )


def migrate(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(ROOT / "alembic"))
    with engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, "head")
    engine.dispose()


def arrange(url: str, page_payer_id: int) -> None:
    """Services, and the page payer's bills issued through the portal's own service."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with get_session_factory(engine)() as dbsession:
        department = Department(code="revenue", name="Revenue Office")
        services = [Service(code=c, name=n, department=department) for c, n in SERVICES]
        dbsession.add_all(services)
        dbsession.flush()
        payer = dbsession.get(User, page_payer_id)
        for i in range(PAGE_BILLS):
            issue_bill(
                dbsession,
                service=services[i % len(services)],
                number=f"ANA-{i:04d}",
                description=f"{services[i % len(services)].name} 2026, instalment {i + 1}",
                due_date=dt.date.today() + dt.timedelta(days=30 + 17 * i),
                lines=[BillLineInput("Amount due", Money(2_000 + 137 * i, "EUR"))],
                payer_user=payer,
            )
        dbsession.commit()
    engine.dispose()


BULK_SQL = """
INSERT INTO ledger_account (code, kind)
    SELECT 'revenue:' || code, 'revenue' FROM service ON CONFLICT (code) DO NOTHING;
INSERT INTO ledger_account (code, kind)
    SELECT 'receivable:user:' || user_id, 'receivable' FROM bench_payer
    ON CONFLICT (code) DO NOTHING;
UPDATE bench_payer p SET account_id = a.id
    FROM ledger_account a WHERE a.code = 'receivable:user:' || p.user_id;
CREATE TEMP TABLE bench_service ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY s.id) - 1 AS n, s.id AS service_id, s.code,
           a.id AS account_id
    FROM service s JOIN ledger_account a ON a.code = 'revenue:' || s.code;
CREATE TEMP TABLE bench_bill ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('bill', 'id')) AS id,
           nextval(pg_get_serial_sequence('journal_transaction', 'id')) AS transaction_id,
           g, p.user_id, p.account_id AS receivable_id, s.service_id, s.code AS service_code,
           s.account_id AS revenue_id, 1000 + (g::bigint * 7919) %% 90000 AS total
    FROM generate_series(1, %(bills)s) g
    JOIN bench_payer p ON p.n = g %% %(payers)s
    JOIN bench_service s ON s.n = g %% (SELECT count(*) FROM bench_service);
INSERT INTO bill (id, public_id, service_id, number, reference, payer_user_id, description,
                  currency, total_minor, due_date, issued_at)
    SELECT id, replace(gen_random_uuid()::text, '-', ''), service_id, %(tag)s || '-' || g,
           'RF' || lpad((98 - ('25' || lpad(id::text, 9, '0') || '271500')::numeric %% 97)::text,
                        2, '0') || 'P' || lpad(id::text, 9, '0'),
           user_id, 'Bench bill ' || g, 'EUR', total, current_date + 30 + (g %% 365)::int, now()
    FROM bench_bill;
INSERT INTO bill_line (bill_id, position, description, amount_minor)
    SELECT id, 0, 'Bench bill ' || g, total FROM bench_bill;
INSERT INTO journal_transaction (id, kind, idempotency, description, created_at)
    SELECT transaction_id, 'bill_issued', 'bill:' || id || ':issued',
           'Bill ' || service_code || '/' || %(tag)s || '-' || g, now()
    FROM bench_bill;
INSERT INTO journal_entry (transaction_id, account_id, bill_id, amount_minor, currency)
    SELECT transaction_id, receivable_id, id, total, 'EUR' FROM bench_bill
    UNION ALL
    SELECT transaction_id, revenue_id, NULL, -total, 'EUR' FROM bench_bill;
"""

CHECKS = {
    "unbalanced journal transactions": """
        SELECT count(*) FROM (SELECT 1 FROM journal_entry GROUP BY transaction_id, currency
                              HAVING sum(amount_minor) <> 0) x""",
    "entries without transaction/account/bill": """
        SELECT count(*) FROM journal_entry e
        LEFT JOIN journal_transaction t ON t.id = e.transaction_id
        LEFT JOIN ledger_account a ON a.id = e.account_id
        LEFT JOIN bill b ON b.id = e.bill_id
        WHERE t.id IS NULL OR a.id IS NULL OR (e.bill_id IS NOT NULL AND b.id IS NULL)""",
    "bills without payer/service": """
        SELECT count(*) FROM bill b LEFT JOIN user_account u ON u.id = b.payer_user_id
        LEFT JOIN service s ON s.id = b.service_id WHERE u.id IS NULL OR s.id IS NULL""",
}


def bulk_bills(url: str, bills: int, tag: str, *, payers: int = 0, payer_id: int = 0) -> None:
    """``bills`` bills, each with its line, its journal transaction and both entries, spread over
    ``payers`` new people (or all for ``payer_id``). Set-based SQL in one transaction; triggers
    (the deferred per-row balance check, foreign keys) are off while loading, and
    :func:`verify` checks afterwards what they would have."""
    with psycopg.connect(url) as connection:
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute(
            "CREATE TEMP TABLE bench_payer (n int, user_id int, account_id int) ON COMMIT DROP"
        )
        if payer_id:
            connection.execute("INSERT INTO bench_payer (n, user_id) VALUES (0, %s)", [payer_id])
            payers = 1
        else:
            connection.execute(
                """
                WITH made AS (
                    INSERT INTO user_account (idp_entity_id, name_id, given_name, family_name,
                                              email, locale, is_admin, created_at)
                    SELECT 'https://idp.bench/metadata', %(tag)s || '-payer-' || g, 'Payer',
                           g::text, '', 'en', false, now()
                    FROM generate_series(1, %(payers)s) g
                    RETURNING id)
                INSERT INTO bench_payer (n, user_id)
                    SELECT row_number() OVER (ORDER BY id) - 1, id FROM made""",
                {"tag": tag, "payers": payers},
            )
        params = {"bills": bills, "payers": payers, "tag": tag}
        for statement in BULK_SQL.split(";\n"):
            if statement.strip():
                connection.execute(statement, params)


def verify(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        found = {name: connection.execute(sql).fetchone()[0] for name, sql in CHECKS.items()}
        sample = connection.execute(
            "SELECT id, reference FROM bill ORDER BY random() LIMIT 50"
        ).fetchall()
        found["bills with a wrong RF reference (of 50 sampled)"] = sum(
            reference != creditor_reference(f"P{bill_id:09d}") for bill_id, reference in sample
        )
    return found


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def table_sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("bill", "journal_entry", "ledger_account", "user_account", "payment")
        }


def explain_traced(url: str, trace_file: Path, trace: str) -> list[tuple[str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement the traced request ran."""
    plans = []
    with psycopg.connect(url) as connection:
        for line in trace_file.read_text().splitlines():
            record = json.loads(line)
            if record["trace"] != trace:
                continue
            rows = connection.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + record["sql"], record["params"]
            ).fetchall()
            plans.append((record["sql"], "\n".join(row[0] for row in rows)))
        connection.rollback()
    return plans


# The run


def write_ini(path: Path, port: int, settings: dict) -> None:
    """production.ini with this run's settings and listening address."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(ROOT / "production.ini")
    parser.remove_section("alembic")
    for key, value in settings.items():
        parser.set("app:main", key, value)
    parser.set("server:main", "listen", f"127.0.0.1:{port}")
    with open(path, "w") as out:
        parser.write(out)


def measure_page(client: Client, requests: int) -> tuple[list[float], float]:
    """Sequential GET /bills timings, and how busy the machine was meanwhile (one client and
    the server use at most about one core; more means something else was running)."""
    for _ in range(min(20, requests)):
        client.request("GET", "/bills")
    busy, total = machine_cpu()
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        status, _, body = client.request("GET", "/bills")
        timings.append(time.perf_counter() - began)
        assert status == 200 and body.count(b'name="only"') == PAGE_BILLS, status
    busy_after, total_after = machine_cpu()
    return timings, (busy_after - busy) / max(1, total_after - total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per load run")
    parser.add_argument("--large", type=int, default=1_000_000, help="other payers' bills, large")
    parser.add_argument("--small", type=int, default=10_000, help="other payers' bills, small")
    parser.add_argument("--clients", type=int, default=8, help="concurrent load clients")
    parser.add_argument("--page-requests", type=int, default=200, help="GET /bills per size")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--explain", action="store_true", help="print every query plan")
    parser.add_argument(
        "--queue",
        default="redis://127.0.0.1:6379/15",
        help="task queue the portal enqueues receipts on (a scratch Redis db)",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    results: dict = {"load": {}, "loadavg": [os.getloadavg()]}
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    portal_db, baseline_db = f"bench_portal_{suffix}", f"bench_baseline_{suffix}"
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="pay_flow_") as tmp_name, admin(args) as pg:
        tmp = Path(tmp_name)
        pg.execute(f"CREATE DATABASE {portal_db}")
        pg.execute(f"CREATE DATABASE {baseline_db}")
        try:
            url = pg_url(args, portal_db)
            migrate(url)
            portal_port, baseline_port, sandbox_port = free_port(), free_port(), free_port()
            idp = DevIdP(tmp / "idp", IDP_ENTITY, f"http://127.0.0.1:{portal_port}/saml/metadata")
            settings = portal_settings(url, tmp, idp, sandbox_port, args.queue)
            write_ini(tmp / "portal.ini", portal_port, settings)
            write_ini(
                tmp / "baseline.ini",
                baseline_port,
                {**settings, "sqlalchemy.url": pg_url(args, baseline_db)},
            )

            # 1a. baseline: one INSERT per request on the same stack
            baseline = Server(
                "baseline",
                [PYTHON, "bench/serve.py", str(tmp / "baseline.ini"), "baseline"],
                baseline_port,
                tmp,
                "/healthz",
            )
            servers.append(baseline)
            clients = [Client(baseline_port) for _ in range(args.clients)]
            results["baseline"] = Load(clients, insert_one, args.seconds, [baseline])
            baseline.stop()

            # 1b. the payment flow
            sandbox = start_sandbox(tmp, sandbox_port)
            servers.append(sandbox)
            trace_file = tmp / "bills-sql.jsonl"
            portal = Server(
                "portal",
                [
                    PYTHON,
                    "bench/serve.py",
                    str(tmp / "portal.ini"),
                    "portal",
                    "/bills",
                    str(trace_file),
                ],
                portal_port,
                tmp,
                "/healthz",
            )
            servers.append(portal)
            page_client = sign_in(portal_port, idp, PAGE_PERSONA)
            pay_clients = [sign_in(portal_port, idp, PAY_PERSONA) for _ in range(args.clients)]
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as connection:
                ids = dict(connection.execute(select(User.name_id, User.id)).all())
            engine.dispose()
            arrange(url, ids[PAGE_PERSONA])
            pool_size = int(250 * (args.seconds + WARMUP_SECONDS)) + 500
            t = time.perf_counter()
            bulk_bills(url, pool_size, "pay", payer_id=ids[PAY_PERSONA])
            bulk_bills(url, args.small, "small", payers=max(1, args.small // 10))
            results["load"]["small"] = time.perf_counter() - t
            vacuum_analyze(url)
            with psycopg.connect(url) as connection:
                pool = connection.execute(
                    "SELECT public_id, total_minor FROM bill WHERE payer_user_id = %s "
                    "ORDER BY id DESC",
                    [ids[PAY_PERSONA]],
                ).fetchall()
            lock = threading.Lock()
            results["pay"] = Load(
                pay_clients,
                lambda client: pay_one(client, pool, lock),
                args.seconds,
                [portal, sandbox],
            )
            with psycopg.connect(url) as connection:
                results["pay_check"] = connection.execute(
                    """SELECT (SELECT count(*) FROM payment WHERE status = 'succeeded'),
                              (SELECT count(*) FROM payment),
                              (SELECT count(*) FROM journal_transaction
                               WHERE kind = 'payment_settled'),
                              (SELECT count(*) FROM provider_event)"""
                ).fetchone()

            # 2. the "my bills" page at two table sizes
            results["sizes"] = {}
            for size, label in ((args.small, "small"), (args.large, "large")):
                if label == "large":
                    t = time.perf_counter()
                    bulk_bills(
                        url,
                        args.large - args.small,
                        "large",
                        payers=max(1, (args.large - args.small) // 10),
                    )
                    loaded = time.perf_counter() - t
                    t = time.perf_counter()
                    vacuum_analyze(url)
                    results["load"]["large"] = (loaded, time.perf_counter() - t)
                t = time.perf_counter()
                checks = verify(url)
                results["load"][f"verify_{label}"] = time.perf_counter() - t
                assert not any(checks.values()), checks
                cpu = portal.cpu_seconds()
                timings, busy = measure_page(page_client, args.page_requests)
                cpu = (portal.cpu_seconds() - cpu) / args.page_requests
                page_client.request("GET", "/bills", headers={"X-Bench-Trace": label})
                results["sizes"][label] = {
                    "others": size,
                    "tables": table_sizes(url),
                    "timings": timings,
                    "busy": busy,
                    "cpu": cpu,
                    "plans": explain_traced(url, trace_file, label),
                    "checks": checks,
                }
        finally:
            for server in reversed(servers):
                server.stop()
            for database in (portal_db, baseline_db):
                pg.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            if args.queue.startswith("redis://"):
                import redis

                redis.Redis.from_url(args.queue).flushdb()
    results["loadavg"].append(os.getloadavg())
    report(args, results, time.perf_counter() - began)


def report(args, results: dict, elapsed: float) -> None:
    pay, base = results["pay"], results["baseline"]
    for name, load in (("payment flow", pay), ("baseline", base)):
        if load.errors:
            print(f"{name}: {len(load.errors)} errors, first: {load.errors[0]}")
    if pay.exhausted:
        print("payment flow: ran out of prepared bills before the end (raise the pool size)")
    ms = 1000
    print()
    print(
        f"== Throughput ({args.clients} clients, {args.seconds:g} s measured after "
        f"{WARMUP_SECONDS:g} s warm-up, waitress from production.ini) =="
    )
    print(f"{'':44}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
    rows = (
        ("completed payments (pay+checkout+notify)", pay),
        ("baseline: one INSERT per request", base),
    )
    for name, load in rows:
        print(
            f"{name:44}{load.rate:9.1f}{load.percentile(0.5) * ms:9.1f}"
            f"{load.percentile(0.95) * ms:9.1f}{len(load.errors):8}"
        )
    print(f"{'portal HTTP requests (3 per payment)':44}{pay.rate * 3:9.1f}")
    print(
        f"ratio payments/s : baseline requests/s = 1 : {base.rate / pay.rate:.1f} "
        f"({pay.rate / base.rate:.3f})"
    )
    print("payment steps, as the client saw them:")
    for name, values in pay.steps.items():
        print(f"  {name:42}{quantile(values, 0.5) * ms:18.1f}{quantile(values, 0.95) * ms:9.1f}")
    print(
        f"CPU per completed payment: portal {pay.cpu_ms_per_iteration('portal'):.1f} ms, "
        f"sandbox {pay.cpu_ms_per_iteration('sandbox'):.1f} ms; baseline server "
        f"{base.cpu_ms_per_iteration('baseline'):.2f} ms per INSERT request. Machine busy: "
        f"{pay.machine_busy:.0%} (payments), {base.machine_busy:.0%} (baseline) of "
        f"{os.cpu_count()} cores"
    )
    succeeded, payments, settled, events = results["pay_check"]
    print(
        f"database after the run: {succeeded}/{payments} payments succeeded, "
        f"{settled} settlements posted to the ledger, {events} notifications recorded"
    )

    print()
    print(
        f"== GET /bills, payer with {PAGE_BILLS} bills, {args.page_requests} sequential "
        "requests per size =="
    )
    print(
        f"{'other payers bills':>20}{'bill rows':>12}{'journal_entry':>15}{'accounts':>10}"
        f"{'min ms':>9}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}{'SQL ms':>8}{'CPU ms':>8}"
        f"{'busy':>6}"
    )
    sizes = results["sizes"]
    for label in ("small", "large"):
        size = sizes[label]
        tables = size["tables"]
        timings = size["timings"]
        print(
            f"{size['others']:>20,}{tables['bill']:>12,}{tables['journal_entry']:>15,}"
            f"{tables['ledger_account']:>10,}{min(timings) * ms:9.2f}"
            f"{quantile(timings, 0.5) * ms:9.2f}{quantile(timings, 0.95) * ms:9.2f}"
            f"{len(size['plans']):9}{sum(_execution_ms(plan) for _, plan in size['plans']):8.2f}"
            f"{size['cpu'] * ms:8.2f}{size['busy']:6.0%}"
        )
    for p, name in ((0.0, "min"), (0.5, "p50"), (0.95, "p95")):
        small, large = (quantile(sizes[k]["timings"], p) for k in ("small", "large"))
        print(f"ratio large/small {name}: {large / small:.2f}")
    print(
        "(SQL ms: the page's statements re-run under EXPLAIN ANALYZE, execution times summed; "
        "CPU ms: portal server CPU per request; busy: machine CPU use while measuring, ~50% is "
        "this benchmark alone)"
    )
    loaded, vacuumed = results["load"]["large"]
    print(
        f"loading: pay pool + {args.small:,} small bills {results['load']['small']:.1f} s; "
        f"{args.large - args.small:,} more bills {loaded:.1f} s + VACUUM ANALYZE "
        f"{vacuumed:.1f} s; integrity checks {results['load']['verify_large']:.1f} s (all 0)"
    )

    print()
    print("== Statements of one GET /bills at the large size (EXPLAIN ANALYZE) ==")
    for (sql, plan), (_, small_plan) in zip(
        sizes["large"]["plans"], sizes["small"]["plans"], strict=False
    ):
        large_ms = _execution_ms(plan)
        small_ms = _execution_ms(small_plan)
        first = " ".join(sql.split())[:110]
        print(f"{small_ms:8.3f} ms -> {large_ms:8.3f} ms  {first}")
        if args.explain or large_ms > max(1.0, 5 * small_ms):
            print("    " + plan.replace("\n", "\n    "))
    start, end = results["loadavg"]
    print(
        f"\ntotal benchmark time {elapsed:.0f} s; load average (1/5/15 min) at start "
        f"{start[0]:.1f}/{start[1]:.1f}/{start[2]:.1f}, at end {end[0]:.1f}/{end[1]:.1f}/"
        f"{end[2]:.1f} on {os.cpu_count()} cores (anything else running skews the rates)"
    )


def _execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    return float(found.group(1)) if found else float("nan")


if __name__ == "__main__":
    main()
