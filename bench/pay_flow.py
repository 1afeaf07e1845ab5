"""Benchmark: the portal against a floor, side by side (issue #13's "How it is measured").

Run: ``.venv/bin/python bench/pay_flow.py [--seconds 10] [--pairs 3] [--large 1000000]``;
a quick run: ``--seconds 5 --pairs 3 --large 100000``.

Self-contained: creates its own PostgreSQL databases (``--pg``, trust auth), builds the portal's
schema with ``alembic upgrade head``, starts the sandbox provider, the portal, the floor and a
static-file server, each a gunicorn master with its workers as production.ini's ``[server:main]``
configures them (``bench/serve.py``: loaded as ``pserve`` loads them; ``--workers``, 2 by
default, for all three), drives them from this process, then stops everything and drops the
databases.

- The floor: a bare Pyramid app with pyramid_tm + zope.sqlalchemy + psycopg doing one INSERT per
  POST. It and the portal are loaded by the same client (``--client``): wrk, one keep-alive
  connection per thread, the portal's loads scripted in ``bench/portal_load.lua``; without wrk,
  this process's threads.
- A payment, what a real one costs the portal: ``POST /bills/pay`` (signed-in session, CSRF
  token, fresh ``Idempotency-Key``), ``POST /payments/<id>/checkout`` (the portal starts the
  payment at the sandbox over HTTP; the review and hosted pages are skipped), and a
  ``payment.succeeded`` notification signed with the sandbox's scheme, whose processing posts
  the settlement to the ledger and issues the receipt.
- "My bills" (``GET /bills``, a payer with 20 bills), a stored receipt's download (200, and 304
  on its ETag), the portal's ``/healthz`` and a static file of the same bytes.

Each is run by ``--concurrency`` keep-alive clients (2 and 8) for ``--seconds`` after a warm-up,
interleaved: floor, the floor at a third of a payment's statements per request (``POST
/hit/<n>``: the stack's own cost of a payment's requests and statements), portal targets,
static, repeated ``--pairs`` times; the medians are printed with the ratios the issue sets goals
for (each pair's ratio, then the median). CPU is the
server's: the gunicorn master's and its workers' (live or reaped) user + system time from /proc,
per operation; the load client's, the sandbox's and PostgreSQL's (its postmaster and every
process it started, when it runs on this machine) are shown apart, and all of them together
per payment against the same per floor request: with every core busy, the payment rate against
the floor's is about the inverse of that ratio, whatever the portal's own share. SQL
statements per request are counted in a separate pass (10 of each, on a portal started with
``BENCH_COUNT_SQL``), never during the timed runs. Finally ``GET /bills`` sequentially while
the table holds ``--small`` and then ``--large`` other payers' bills (bulk-inserted in SQL, ledger
entries included), with EXPLAIN ANALYZE of the exact statements the page ran at each size: it
must stay flat.
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
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
from portal.scripts.dev_keys import SIGNING_EXTENSIONS
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
#: what the reverse proxy in front of the portal adds (production.ini trusts 127.0.0.1)
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


# Processes and HTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A subprocess serving HTTP on 127.0.0.1:``port``; its output goes to a log file."""

    def __init__(
        self,
        name: str,
        args: list[str],
        port: int,
        logs: Path,
        health: str,
        env: dict[str, str] | None = None,
    ):
        self.name = name
        self.port = port
        self.log_path = logs / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT} | (env or {})
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
        """User + system CPU time so far of the server: the process (the gunicorn master), the
        children it has reaped (workers recycled or exited) and the live ones (the workers)."""
        return tree_cpu_seconds(self.process.pid)

    def workers_cpu(self) -> dict[int, int]:
        """CPU so far of each live worker (clock ticks, by pid)."""
        return {child: _proc_cpu(child) for child in _children(self.process.pid)}

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


def _proc_cpu(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid``, in clock ticks (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return sum(int(value) for value in fields[11:15])


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (a scan of /proc: /proc/<pid>/task/*/children is not
    available everywhere)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


#: a run whose busiest worker did this share of the workers' CPU or more ran on one worker
ONE_WORKER = 0.9


def busiest_share(before: dict[int, int], after: dict[int, int]) -> float:
    """The share of the workers' CPU between two :meth:`Server.workers_cpu` samples that the
    busiest worker did. gthread workers race to accept each connection, so the few keep-alive
    connections of a 2-client run may all land on one worker: that run's rate is then one
    core's. NaN when it cannot be told: nothing measured, or a worker exited meanwhile
    (recycled after ``max_requests``), taking its share with it."""
    if set(before) - set(after):
        return float("nan")
    spent = [max(0, ticks - before.get(pid, 0)) for pid, ticks in after.items()]
    return max(spent) / sum(spent) if spent and sum(spent) > 0 else float("nan")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of ``pid`` and of its children, live or reaped (a worker that exits moves from its
    own counters into the master's cutime/cstime when the master waits for it)."""
    return (_proc_cpu(pid) + sum(_proc_cpu(child) for child in _children(pid))) / os.sysconf(
        "SC_CLK_TCK"
    )


class Database:
    """The PostgreSQL server the runs use, as a CPU source like :class:`Server`: its
    postmaster and every process it started (backends, WAL writer, checkpointer...), live or
    reaped. Only on this machine: for a remote server its CPU is not known (NaN)."""

    name = "postgresql"

    def __init__(self, url: str):
        with psycopg.connect(url) as connection:
            backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
            # read while the backend lives: once the connection closes it exits
            parent = _postgres_parent(backend)
        self.postmaster = parent if parent is not None and _is_postgres(parent) else None

    def cpu_seconds(self) -> float:
        return float("nan") if self.postmaster is None else tree_cpu_seconds(self.postmaster)


def _postgres_parent(pid: int) -> int | None:
    """The parent of ``pid`` if ``pid`` is a PostgreSQL process of this machine: a pid from
    a server elsewhere (another host, a container) may name some unrelated local process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, PermissionError):
        return None
    found = re.search(r"^PPid:\s+(\d+)", status, re.MULTILINE)
    return int(found.group(1)) if found and _is_postgres(pid) else None


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster")
    except (FileNotFoundError, PermissionError):
        return False


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
        #: the clients that found no bill left before the run ended (their rate is cut short)
        self.exhausted: list[str] = []
        self.cpu: dict[str, float] = {}
        #: by server: the share of its workers' CPU its busiest worker did
        self.busiest: dict[str, float] = {}
        self.client_cpu = 0.0
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
                    with lock:
                        self.exhausted.append("a client found no bill left")
                    return
                ended = time.perf_counter()
                with lock:
                    self.done.append((ended, ended - began, steps))

        def sample_cpu():
            time.sleep(max(0.0, self.window[0] - time.perf_counter()))
            before = {server.name: server.cpu_seconds() for server in servers}
            workers = {s.name: s.workers_cpu() for s in servers if isinstance(s, Server)}
            busy, total = machine_cpu()
            client_before = time.process_time()
            time.sleep(max(0.0, self.window[1] - time.perf_counter()))
            self.client_cpu = time.process_time() - client_before
            for server in servers:
                self.cpu[server.name] = server.cpu_seconds() - before[server.name]
                if isinstance(server, Server):
                    share = busiest_share(workers[server.name], server.workers_cpu())
                    self.busiest[server.name] = share
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


def pay_one(client: Client, bills: list, lock: threading.Lock, count: bool = False):
    """Pay one bill: create the payment, start it at the sandbox, deliver its success. With
    ``count``, each request is labelled for the statement-counting server."""

    def label(step: str) -> dict:
        return {"X-Bench-Count": step} if count else {}

    with lock:
        if not bills:
            return False
        public_id, amount = bills.pop()
    steps = {}
    began = time.perf_counter()
    status, headers, body = client.post_form(
        "/bills/pay",
        {"csrf_token": client.csrf_token, "only": public_id},
        {"Idempotency-Key": uuid.uuid4().hex, **label("pay")},
    )
    if status != 303 or not headers["Location"].endswith("/checkout"):
        raise RuntimeError(f"pay: {status} {body[:300]!r}")
    checkout = urlsplit(headers["Location"]).path
    payment_id = checkout.split("/")[2]
    steps["POST /bills/pay"], began = time.perf_counter() - began, time.perf_counter()
    status, headers, body = client.post_form(
        checkout, {"csrf_token": client.csrf_token}, label("checkout")
    )
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
    status, _, body = client.request(
        "POST", "/billing/notifications/sandbox", event, {**event_headers, **label("notify")}
    )
    if status != 200 or json.loads(body)["status"] != "processed":
        raise RuntimeError(f"notification: {status} {body[:300]!r}")
    steps["POST /billing/notifications/sandbox"] = time.perf_counter() - began
    return steps


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
    ensure_self_signed(
        tmp / "signing.key",
        tmp / "signing.crt",
        "Portal bench receipts",
        extensions=SIGNING_EXTENSIONS,
    )
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
                                              email, locale, is_admin, is_reviewer,
                                              is_auditor, created_at)
                    SELECT 'https://idp.bench/metadata', %(tag)s || '-payer-' || g, 'Payer',
                           g::text, '', 'en', false, false, false, now()
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


def write_ini(path: Path, port: int, settings: dict, server: dict | None = None) -> None:
    """production.ini with this run's settings, listening on 127.0.0.1:``port``; ``server``
    overrides options of its ``[server:main]`` (gunicorn's settings)."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    parser.read(ROOT / "production.ini")
    parser.remove_section("alembic")
    for key, value in settings.items():
        parser.set("app:main", key, value)
    server = dict(server or {})
    if "waitress" in server.get("use", ""):
        # for comparison: the waitress section production.ini had before gunicorn
        parser.remove_section("server:main")
        parser.add_section("server:main")
        server.update(WAITRESS | {"listen": f"127.0.0.1:{port}"})
        server.pop("workers", None)
    else:
        parser.set("DEFAULT", "http_port", str(port))
    for key, value in server.items():
        parser.set("server:main", key, str(value))
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


#: production.ini's [server:main] before gunicorn (``--server waitress``)
WAITRESS = {
    "use": "egg:waitress#main",
    "threads": 8,
    "max_request_body_size": 10485760,
    "trusted_proxy": "127.0.0.1",
    "trusted_proxy_headers": "x-forwarded-for x-forwarded-proto",
    "clear_untrusted_proxy_headers": "yes",
}


class Run:
    """One measured run of one target: rate, server CPU per operation, latency, client CPU."""

    def __init__(
        self,
        rate,
        cpu_ms,
        p50,
        p95,
        errors,
        busy,
        client_cpu_ms,
        other_cpu_ms=0.0,
        db_cpu_ms=0.0,
        busiest=float("nan"),
    ):
        self.rate, self.cpu_ms, self.p50, self.p95 = rate, cpu_ms, p50, p95
        self.errors, self.busy, self.client_cpu_ms = errors, busy, client_cpu_ms
        self.other_cpu_ms, self.db_cpu_ms = other_cpu_ms, db_cpu_ms
        #: the share of the server's CPU its busiest worker did (see busiest_share)
        self.busiest = busiest

    @property
    def all_cpu_ms(self) -> float:
        """What one operation costs the machine: the server, the sandbox provider, the load
        client and PostgreSQL. With every core busy, the rate is about the cores over this."""
        return self.cpu_ms + self.other_cpu_ms + self.client_cpu_ms + self.db_cpu_ms

    @classmethod
    def of_load(cls, load: Load, server: str, other: str = "") -> Run:
        return cls(
            load.rate,
            load.cpu_ms_per_iteration(server),
            load.percentile(0.5) * 1000,
            load.percentile(0.95) * 1000,
            load.errors,
            load.machine_busy,
            1000 * load.client_cpu / max(1, load.count),
            load.cpu_ms_per_iteration(other) if other else 0.0,
            load.cpu_ms_per_iteration(Database.name),
            load.busiest.get(server, float("nan")),
        )


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"n": 1}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), summary.duration))
end
"""


def floor_wrk(
    port: int,
    clients: int,
    seconds: float,
    floor: Server,
    database: Database,
    tmp: Path,
    path: str = "/hit",
) -> Run:
    """The floor loaded by wrk (one INSERT per POST /hit, n per POST /hit/<n>), ``clients``
    connections: a warm-up run, then the measured one with the floor's CPU sampled around it."""
    script = tmp / "floor.lua"
    script.write_text(WRK_SCRIPT)
    url = f"http://127.0.0.1:{port}{path}"
    threads = str(clients)  # one connection per thread, as the portal's loads

    def wrk(duration: float):
        process = subprocess.Popen(
            ["wrk", "-t", threads, "-c", str(clients), "-d", f"{duration:g}s", "-s", str(script)]
            + [url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = status
        found = re.search(r"BENCH (\d+) (\d+) (\d+) (\d+) (\d+)", output)
        if not found:
            raise RuntimeError(f"wrk: {output}")
        return [int(v) for v in found.groups()], usage.ru_utime + usage.ru_stime

    wrk(WARMUP_SECONDS)
    before, db_before = floor.cpu_seconds(), database.cpu_seconds()
    workers = floor.workers_cpu()
    busy, total = machine_cpu()
    (requests, errors, p50, p95, duration), client_cpu = wrk(seconds)
    cpu, db_cpu = floor.cpu_seconds() - before, database.cpu_seconds() - db_before
    busiest = busiest_share(workers, floor.workers_cpu())
    busy_after, total_after = machine_cpu()
    return Run(
        requests / (duration / 1e6),
        1000 * cpu / max(1, requests),
        p50 / 1000,
        p95 / 1000,
        [f"wrk: {errors} errors"] if errors else [],
        (busy_after - busy) / max(1, total_after - total),
        1000 * client_cpu / max(1, requests),
        db_cpu_ms=1000 * db_cpu / max(1, requests),
        busiest=busiest,
    )


#: the wrk script that loads the portal (a payment's three requests, or GETs)
PORTAL_SCRIPT = ROOT / "bench" / "portal_load.lua"
#: bills handed to each wrk thread of a payment run, per second of it: more than the whole
#: portal pays on these machines, since the connections are not served evenly (one thread
#: paid 166 bills in 5 s while the eight averaged 63). What a thread leaves unpaid goes back
#: to the pool.
BILLS_PER_SECOND = 250


class WrkLoad:
    """``clients`` wrk connections (one per thread) running ``bench/portal_load.lua``'s
    ``mode`` for ``seconds`` after a warm-up run, with the CPU of ``servers`` sampled around
    the measured run: the portal loaded by the client that loads the floor. ``operations``
    gives each thread its lines (see the script) for a run of so many seconds, and
    ``give_back`` takes back after each run the lines a thread did not get to; ``clients``
    are the sessions the threads use (None: no cookie)."""

    def __init__(
        self,
        mode: str,
        port: int,
        clients: list[Client | None],
        operations,
        seconds: float,
        servers,
        tmp: Path,
        give_back: Callable[[list[str]], None] | None = None,
    ):
        self.errors: list[str] = []
        #: the threads that paid all their bills before a run ended (their rate is cut short)
        self.exhausted: list[str] = []
        #: payments under way when a run (the warm-up or the measured one) ended
        self.cut_off = 0
        self._give_back = give_back
        self.steps: dict[str, list[float]] = {}
        self.count = 0
        self.cpu: dict[str, float] = {}
        self.busiest: dict[str, float] = {}
        self._run(mode, port, clients, operations, WARMUP_SECONDS, tmp, "warm-up")
        before = {server.name: server.cpu_seconds() for server in servers}
        workers = {s.name: s.workers_cpu() for s in servers if isinstance(s, Server)}
        busy, total = machine_cpu()
        latencies, duration, self.client_cpu = self._run(
            mode, port, clients, operations, seconds, tmp, "measured run"
        )
        for server in servers:
            self.cpu[server.name] = server.cpu_seconds() - before[server.name]
            if isinstance(server, Server):
                self.busiest[server.name] = busiest_share(
                    workers[server.name], server.workers_cpu()
                )
        busy_after, total_after = machine_cpu()
        self.machine_busy = (busy_after - busy) / max(1, total_after - total)
        self.measured = latencies.pop("operation", [])
        self.steps = latencies
        self.rate = self.count / duration

    def _run(self, mode, port, clients, operations, seconds, tmp: Path, label: str):
        """One wrk run: (latencies by step in seconds, duration in seconds, wrk's CPU)."""
        prefix = tmp / f"wrk-{mode}"
        handed = []
        for number, client in enumerate(clients, start=1):
            lines = operations(number, seconds)
            handed.append(lines)
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items()) if client else ""
            head = [cookie or "-", (client.csrf_token if client else "") or "-"]
            Path(f"{prefix}-{number}.txt").write_text("\n".join(head + lines) + "\n")
        process = subprocess.Popen(
            ["wrk", "-t", str(len(clients)), "-c", str(len(clients)), "-d", f"{seconds:g}s"]
            + ["-s", str(PORTAL_SCRIPT), f"http://127.0.0.1:{port}", "--", mode, str(prefix)]
            + [HOST, SIGNING_SECRET],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        duration = re.search(r"^DURATION (\d+)$", output, re.MULTILINE)
        if status != 0 or duration is None:
            raise RuntimeError(f"wrk: {output[-3000:]}")
        socket = re.search(r"^SOCKET (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
        if socket and any(int(n) for n in socket.groups()):
            self.errors.append("wrk socket errors (connect, read, write, timeout): " + socket[0])
        latencies: dict[str, list[float]] = {}
        count = 0
        for line in output.splitlines():
            kind, _, rest = line.partition(" ")
            if kind != "OPS":
                continue
            fields = (int(v) for v in rest.split())
            number, completed, failed, used, exhausted, sent_again, cut_off = fields
            count += completed
            self.cut_off += cut_off
            if exhausted:
                self.exhausted.append(
                    f"{label}: thread {number} after all {len(handed[number - 1])} of its bills"
                )
            if self._give_back is not None:
                self._give_back(handed[number - 1][used:])
            if failed:
                self.errors.append(f"{failed} failed")
            if sent_again:
                self.errors.append(f"{sent_again} sent again after a dropped connection")
            for written in Path(f"{prefix}-{number}.out").read_text().splitlines():
                kind, _, rest = written.partition(" ")
                if kind == "LAT":
                    ms, _, name = rest.partition(" ")
                    latencies.setdefault(name, []).append(float(ms) / 1000)
                elif kind == "ERR":
                    self.errors.append(rest)
        self.count = count
        return latencies, int(duration[1]) / 1e6, usage.ru_utime + usage.ru_stime

    def percentile(self, p: float) -> float:
        return quantile(self.measured, p)

    def cpu_ms_per_iteration(self, server: str) -> float:
        return 1000 * self.cpu.get(server, float("nan")) / max(1, self.count)


def pay_wrk(port, clients, pool, lock, seconds, servers, tmp: Path) -> WrkLoad:
    """Payments driven by wrk: each thread pays bills of ``pool`` it is handed, once each."""

    def bills(number: int, run_seconds: float) -> list[str]:
        wanted = int(BILLS_PER_SECOND * run_seconds) + 10
        with lock:
            taken, pool[:] = pool[-wanted:], pool[:-wanted]
        return [f"{public_id} {amount}" for public_id, amount in taken]

    def give_back(lines: list[str]) -> None:
        with lock:
            pool.extend((public_id, int(amount)) for public_id, amount in map(str.split, lines))

    return WrkLoad("pay", port, clients, bills, seconds, servers, tmp, give_back)


def floor_python(
    port: int, clients: int, seconds: float, floor: Server, database: Database, path: str = "/hit"
) -> Run:
    """The floor loaded by this process's threads (the client pay flow uses)."""
    states = [Client(port) for _ in range(clients)]

    def insert_one(client: Client):
        status, _, body = client.request(
            "POST", path, json.dumps({"n": 1}), {"Content-Type": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"floor: {status} {body[:300]!r}")

    return Run.of_load(Load(states, insert_one, seconds, [floor, database]), floor.name)


def get_ok(path: str, expect: int = 200, headers=None, size: int | None = None, label=""):
    def iteration(client: Client):
        extra = {**(headers or {}), **({"X-Bench-Count": label} if label else {})}
        status, _, body = client.request(
            "GET", path(client) if callable(path) else path, None, extra
        )
        if status != expect or (size is not None and len(body) != size):
            raise RuntimeError(f"GET: {status}, {len(body)} bytes")

    return iteration


def render_receipts(url: str, ini: Path, payer_id: int) -> list[tuple[str, str, int]]:
    """Render and store the receipts the portal issued to ``payer_id``, as the render task
    does (DocumentIssuer.render): (number, sha256, size) of each."""
    from pyramid.paster import get_appsettings
    from pyramid.registry import Registry

    from portal.clock import clock_from_settings, install_clock
    from portal.documents.issuing import DocumentIssuer
    from portal.documents.signing import DocumentSigner
    from portal.receipts.issuing import ReceiptKind
    from portal.receipts.models import Receipt

    app_settings = get_appsettings(str(ini), "main")
    clock = clock_from_settings(app_settings)
    issuer = DocumentIssuer(
        app_settings, DocumentSigner.from_settings(app_settings), clock.timezone
    )
    issuer.kinds["receipt"] = ReceiptKind()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    registry = Registry("bench")
    install_clock(registry, clock)
    stored = []
    with get_session_factory(engine, registry)() as dbsession:
        receipts = dbsession.scalars(
            select(Receipt).where(Receipt.owner_user_id == payer_id).order_by(Receipt.id)
        ).all()
        for receipt in receipts:
            issuer.render(dbsession, receipt)
            dbsession.commit()
            stored.append((receipt.number, receipt.sha256, len(receipt.pdf)))
    engine.dispose()
    return stored


def count_statements(
    args, tmp: Path, ini: Path, portal_port: int, idp, pool, lock, payer_id: int
) -> tuple[dict, list]:
    """The counting pass, on a portal of its own started with ``BENCH_COUNT_SQL`` (the timed
    runs never count): SQL statements per request of each kind, and the stored receipts the
    download runs fetch (rendered here from the counted payments)."""
    count_file = tmp / "statements.txt"
    server = Server(
        "portal-count",
        [PYTHON, "bench/serve.py", str(ini), "portal"],
        portal_port,
        tmp,
        "/healthz",
        env={"BENCH_COUNT_SQL": str(count_file)},
    )
    try:
        payer = sign_in(portal_port, idp, PAY_PERSONA)
        page = sign_in(portal_port, idp, PAGE_PERSONA)
        # The first payment of a fiscal year also opens the receipt series and the ledger
        # accounts it posts to (a few statements once a year): paid before counting, so the
        # count is what every later payment costs.
        pay_one(payer, pool, lock)
        counted = 10
        for _ in range(counted):
            pay_one(payer, pool, lock, count=True)
        stored = render_receipts(pg_url(args, args.portal_db), ini, payer_id)
        number, sha256, size = stored[0]
        requests = {
            "bills": (page, get_ok("/bills", label="bills")),
            "receipt": (payer, get_ok(f"/receipts/{number}.pdf", size=size, label="receipt")),
            "receipt 304": (
                payer,
                get_ok(
                    f"/receipts/{number}.pdf", 304, {"If-None-Match": f'"{sha256}"'}, label="304"
                ),
            ),
            "healthz": (page, get_ok("/healthz", label="healthz")),
        }
        for client, iteration in requests.values():
            for _ in range(counted):
                iteration(client)
    finally:
        server.stop()
    lines = count_file.read_text().split() if count_file.exists() else []
    per = {label: lines.count(label) / counted for label in set(lines)}
    counts = {
        "POST /bills/pay": per.get("pay", 0.0),
        "POST /payments/<id>/checkout": per.get("checkout", 0.0),
        "POST /billing/notifications/sandbox": per.get("notify", 0.0),
        "bills": per.get("bills", 0.0),
        "receipt": per.get("receipt", 0.0),
        "receipt 304": per.get("304", 0.0),
        "healthz": per.get("healthz", 0.0),
    }
    counts["payment"] = sum(per.get(step, 0.0) for step in ("pay", "checkout", "notify"))
    return counts, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=int,
        default=10,
        help="measured seconds per run (whole: wrk takes no less)",
    )
    parser.add_argument("--pairs", type=int, default=3, help="floor/portal pairs per concurrency")
    parser.add_argument(
        "--concurrency", default="2,8", help="concurrent clients, comma-separated (2,8)"
    )
    parser.add_argument("--large", type=int, default=1_000_000, help="other payers' bills, large")
    parser.add_argument("--small", type=int, default=10_000, help="other payers' bills, small")
    parser.add_argument("--page-requests", type=int, default=200, help="GET /bills per size")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers of the portal and the floor (2)"
    )
    parser.add_argument(
        "--server",
        choices=("gunicorn", "waitress"),
        default="gunicorn",
        help="production.ini's gunicorn, or waitress as production.ini had it before",
    )
    parser.add_argument("--worker-class", default="", help="override production.ini's")
    parser.add_argument("--threads", type=int, default=0, help="override production.ini's")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="what loads the floor and the portal: wrk if installed (auto), or this process's "
        "threads",
    )
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--explain", action="store_true", help="print every query plan")
    parser.add_argument(
        "--queue",
        default="redis://127.0.0.1:6379/15",
        help="task queue the portal enqueues receipts on (a scratch Redis db)",
    )
    args = parser.parse_args()
    # stopped from outside: stop the servers and drop the databases on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    server_overrides: dict = {"workers": args.workers}
    if args.server == "waitress":
        server_overrides["use"] = "egg:waitress#main"
    if args.worker_class:
        server_overrides["worker_class"] = args.worker_class
    if args.threads:
        server_overrides["threads"] = args.threads
    began = time.perf_counter()
    results: dict = {"load": {}, "loadavg": [os.getloadavg()], "runs": {}}
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    args.portal_db, floor_db = f"bench_portal_{suffix}", f"bench_floor_{suffix}"
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="pay_flow_") as tmp_name, admin(args) as pg:
        tmp = Path(tmp_name)
        pg.execute(f"CREATE DATABASE {args.portal_db}")
        pg.execute(f"CREATE DATABASE {floor_db}")
        try:
            url = pg_url(args, args.portal_db)
            migrate(url)
            ports = {name: free_port() for name in ("portal", "floor", "sandbox", "static")}
            idp = DevIdP(
                tmp / "idp", IDP_ENTITY, f"http://127.0.0.1:{ports['portal']}/saml/metadata"
            )
            settings = portal_settings(url, tmp, idp, ports["sandbox"], args.queue)
            write_ini(tmp / "portal.ini", ports["portal"], settings, server_overrides)
            floor_settings = {**settings, "sqlalchemy.url": pg_url(args, floor_db)}
            write_ini(tmp / "floor.ini", ports["floor"], floor_settings, server_overrides)
            write_ini(tmp / "static.ini", ports["static"], settings, server_overrides)
            results["server"] = server_options_of(tmp / "portal.ini")
            servers.append(start_sandbox(tmp, ports["sandbox"]))
            sandbox = servers[-1]

            # data: the payer of "my bills", the pay pool, the small table
            first = Server(
                "portal-setup",
                [PYTHON, "bench/serve.py", str(tmp / "portal.ini"), "portal"],
                ports["portal"],
                tmp,
                "/healthz",
            )
            try:
                sign_in(ports["portal"], idp, PAGE_PERSONA)
                sign_in(ports["portal"], idp, PAY_PERSONA)
            finally:
                first.stop()
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as connection:
                ids = dict(connection.execute(select(User.name_id, User.id)).all())
            engine.dispose()
            arrange(url, ids[PAGE_PERSONA])
            pay_seconds = len(args.concurrency) * args.pairs * (args.seconds + WARMUP_SECONDS)
            # the bills paid, and those handed out at once in the largest run (warm-up or measured)
            longest = max(args.seconds, WARMUP_SECONDS)
            handed = max(args.concurrency) * (BILLS_PER_SECOND * longest + 10)
            pool_size = int(BILLS_PER_SECOND * pay_seconds) + handed + 500
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

            # the counting pass (its own server), which also makes the stored receipts
            t = time.perf_counter()
            results["statements"], stored = count_statements(
                args, tmp, tmp / "portal.ini", ports["portal"], idp, pool, lock, ids[PAY_PERSONA]
            )
            results["load"]["count"] = time.perf_counter() - t
            number, sha256, size = stored[0]
            (tmp / "static").mkdir()
            with psycopg.connect(url) as connection:
                pdf = connection.execute(
                    "SELECT pdf FROM document WHERE number = %s", [number]
                ).fetchone()[0]
            (tmp / "static" / "receipt.pdf").write_bytes(pdf)
            results["receipt_size"] = len(pdf)

            # the servers under test
            trace_file = tmp / "bills-sql.jsonl"
            portal = Server(
                "portal",
                [PYTHON, "bench/serve.py", str(tmp / "portal.ini"), "portal", "/bills"]
                + [str(trace_file)],
                ports["portal"],
                tmp,
                "/healthz",
            )
            servers.append(portal)
            floor = Server(
                "floor",
                [PYTHON, "bench/serve.py", str(tmp / "floor.ini"), "floor"],
                ports["floor"],
                tmp,
                "/healthz",
            )
            servers.append(floor)
            static = Server(
                "static",
                [PYTHON, "bench/serve.py", str(tmp / "static.ini"), "static", str(tmp / "static")],
                ports["static"],
                tmp,
                "/healthz",
            )
            servers.append(static)
            most = max(args.concurrency)
            pay_clients = [sign_in(ports["portal"], idp, PAY_PERSONA) for _ in range(most)]
            page_clients = [sign_in(ports["portal"], idp, PAGE_PERSONA) for _ in range(most)]
            static_clients = [Client(ports["static"]) for _ in range(most)]
            sizes = {n: s for n, _, s in stored}
            etags = {n: e for n, e, _ in stored}
            pick = random.Random(6)
            numbers = list(sizes)

            def receipt_path(client):
                client.picked = pick.choice(numbers)
                return f"/receipts/{client.picked}.pdf"

            def fetch_receipt(client: Client):
                status, _, body = client.request("GET", receipt_path(client))
                if status != 200 or len(body) != sizes[client.picked]:
                    raise RuntimeError(f"receipt: {status}, {len(body)} bytes")

            def fetch_304(client: Client):
                path = receipt_path(client)
                etag = f'"{etags[client.picked]}"'
                status, _, _ = client.request("GET", path, None, {"If-None-Match": etag})
                if status != 304:
                    raise RuntimeError(f"receipt 304: {status}")

            def bills_page(client: Client):
                status, _, body = client.request("GET", "/bills")
                if status != 200 or body.count(b'name="only"') != PAGE_BILLS:
                    raise RuntimeError(f"bills: {status}")

            # interleaved: floor, portal (pay, bills, downloads), static, per pair
            runs: dict = results["runs"]
            # PostgreSQL's CPU per operation, beside the load client's and the sandbox's
            database = Database(url)
            # a payment's requests and statements on the floor's stack: its three requests
            # run a third of its statements each
            results["skeleton"] = max(1, round(results["statements"]["payment"] / 3))
            skeleton = f"/hit/{results['skeleton']}"
            for clients in args.concurrency:
                for pair in range(1, args.pairs + 1):

                    def add(name, run, clients=clients):
                        runs.setdefault((name, clients), []).append(run)

                    port = ports["floor"]
                    if args.client == "wrk":
                        add("floor", floor_wrk(port, clients, args.seconds, floor, database, tmp))
                        add(
                            "skeleton",
                            floor_wrk(port, clients, args.seconds, floor, database, tmp, skeleton),
                        )
                        pay = pay_wrk(
                            ports["portal"],
                            pay_clients[:clients],
                            pool,
                            lock,
                            args.seconds,
                            [portal, sandbox, database],
                            tmp,
                        )
                    else:
                        add("floor", floor_python(port, clients, args.seconds, floor, database))
                        add(
                            "skeleton",
                            floor_python(port, clients, args.seconds, floor, database, skeleton),
                        )
                        pay = Load(
                            pay_clients[:clients],
                            lambda client: pay_one(client, pool, lock),
                            args.seconds,
                            [portal, sandbox, database],
                        )
                    results.setdefault("exhausted", []).extend(
                        f"{clients} clients, pair {pair}, {what}" for what in pay.exhausted
                    )
                    results["cut_off"] = results.get("cut_off", 0) + getattr(pay, "cut_off", 0)
                    add("pay", Run.of_load(pay, "portal", "sandbox"))
                    for step, values in pay.steps.items():
                        runs.setdefault((step, clients), []).append(quantile(values, 0.5) * 1000)
                    # each page: what wrk asks and checks (bench/portal_load.lua's lines), or
                    # this process's threads
                    for name, lines, iteration, states, server in (
                        (
                            "bills",
                            [f'/bills 200 - - name="only" {PAGE_BILLS}'],
                            bills_page,
                            page_clients,
                            portal,
                        ),
                        (
                            "receipt",
                            [f"/receipts/{n}.pdf 200 {sizes[n]} - - -" for n in numbers],
                            fetch_receipt,
                            pay_clients,
                            portal,
                        ),
                        (
                            "receipt 304",
                            [f"/receipts/{n}.pdf 304 - {etags[n]} - -" for n in numbers],
                            fetch_304,
                            pay_clients,
                            portal,
                        ),
                        (
                            "healthz",
                            ["/healthz 200 - - - -"],
                            get_ok("/healthz"),
                            page_clients,
                            portal,
                        ),
                        (
                            "static",
                            [f"/static/receipt.pdf 200 {len(pdf)} - - -"],
                            get_ok("/static/receipt.pdf", size=len(pdf)),
                            static_clients,
                            static,
                        ),
                    ):
                        if args.client == "wrk":
                            load = WrkLoad(
                                "get",
                                server.port,
                                states[:clients],
                                lambda number, seconds, lines=lines: lines,
                                args.seconds,
                                [server, database],
                                tmp,
                            )
                        else:
                            load = Load(
                                states[:clients], iteration, args.seconds, [server, database]
                            )
                        add(name, Run.of_load(load, server.name))
            with psycopg.connect(url) as connection:
                results["pay_check"] = connection.execute(
                    """SELECT (SELECT count(*) FROM payment WHERE status = 'succeeded'),
                              (SELECT count(*) FROM payment),
                              (SELECT count(*) FROM journal_transaction
                               WHERE kind = 'payment_settled'),
                              (SELECT count(*) FROM provider_event)"""
                ).fetchone()
            with psycopg.connect(pg_url(args, floor_db)) as connection:
                # the floor's rows: a request whose INSERT was rolled back is a cheaper floor
                results["floor_rows"] = connection.execute(
                    "SELECT count(*) FROM bench_hit"
                ).fetchone()[0]
            static.stop()
            floor.stop()

            # "my bills" against table size: sequential, one client
            page_client = page_clients[0]
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
            for database in (args.portal_db, floor_db):
                pg.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            if args.queue.startswith("redis://"):
                import redis

                redis.Redis.from_url(args.queue).flushdb()
    results["loadavg"].append(os.getloadavg())
    report(args, results, time.perf_counter() - began)


def server_options_of(ini: Path) -> dict:
    parser = configparser.RawConfigParser()
    parser.read(ini)
    return dict(parser.items("server:main"))


def describe_server(server: dict) -> str:
    if "waitress" in server["use"]:
        return f"waitress, {server['threads']} threads (production.ini before gunicorn)"
    threads = f", {server['threads']} threads" if "threads" in server else ""
    return (
        f"gunicorn {server.get('worker_class', 'sync')}, {server['workers']} workers{threads} "
        "(production.ini's [server:main])"
    )


def report(args, results: dict, elapsed: float) -> None:
    runs = results["runs"]
    statements = results["statements"]
    server = results["server"]

    def med(name, clients, field):
        return statistics.median(getattr(run, field) for run in runs[(name, clients)])

    def med_ratio(name, base, clients, field, invert=False):
        pairs = zip(runs[(name, clients)], runs[(base, clients)], strict=True)
        values = [
            getattr(b, field) / getattr(a, field)
            if invert
            else getattr(a, field) / getattr(b, field)
            for a, b in pairs
        ]
        return statistics.median(values)

    for (name, clients), values in runs.items():
        if values and isinstance(values[0], Run):
            errors = [e for run in values for e in run.errors]
            if errors:
                print(f"{name} at {clients} clients: {len(errors)} errors, first: {errors[0]}")
    for what in results.get("exhausted", []):
        print(f"payment flow ran out of bills before its run ended (its rate is low): {what}")
    print()
    print(
        f"== Medians of {args.pairs} interleaved pairs per concurrency, {args.seconds:g} s "
        f"measured after {WARMUP_SECONDS:g} s warm-up per run; servers: "
        f"{describe_server(server)} =="
    )
    print(
        "floor: bare Pyramid + pyramid_tm + zope.sqlalchemy + psycopg, one INSERT per POST, "
        "it and the portal loaded by "
        + (
            "wrk, one keep-alive connection per thread"
            if args.client == "wrk"
            else "this process's keep-alive clients (Python threads)"
        )
    )
    print(
        "CPU ms: the server's processes (master + workers, from /proc) per operation; "
        "client: the load client's CPU per operation"
    )
    header = (
        f"{'':40}{'clients':>8}{'per s':>9}{'CPU ms':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'client':>8}{'busy':>6}{'SQL':>7}"
    )
    skeleton = results["skeleton"]
    rows = [
        ("floor: one INSERT per request", "floor", None),
        (f"floor: {skeleton} INSERTs per request", "skeleton", None),
        ("payment (pay + checkout + notification)", "pay", "payment"),
        ("my bills: GET /bills, 20 bills", "bills", "bills"),
        ("stored receipt: GET /receipts/<n>.pdf", "receipt", "receipt"),
        ("  same, If-None-Match -> 304", "receipt 304", "receipt 304"),
        ("portal /healthz", "healthz", "healthz"),
        ("static file, same bytes, Pyramid only", "static", None),
    ]
    print(header)
    for clients in args.concurrency:
        for label, name, sql in rows:
            print(
                f"{label:40}{clients:8}{med(name, clients, 'rate'):9.1f}"
                f"{med(name, clients, 'cpu_ms'):9.2f}{med(name, clients, 'p50'):9.1f}"
                f"{med(name, clients, 'p95'):9.1f}{med(name, clients, 'client_cpu_ms'):8.2f}"
                f"{med(name, clients, 'busy'):6.0%}"
                + (
                    f"{statements[sql]:7.1f}"
                    if sql
                    else f"{ {'floor': 1, 'skeleton': skeleton}.get(name, '-'):>7}"
                )
            )
        print(
            f"{'  sandbox provider CPU per payment':40}{clients:8}{'':9}"
            f"{med('pay', clients, 'other_cpu_ms'):9.2f}"
        )
        print(
            f"{'  PostgreSQL CPU per payment':40}{clients:8}{'':9}"
            f"{med('pay', clients, 'db_cpu_ms'):9.2f}   per floor request "
            f"{med('floor', clients, 'db_cpu_ms'):.2f}"
        )
        for step in (
            "POST /bills/pay",
            "POST /payments/<id>/checkout",
            "POST /billing/notifications/sandbox",
        ):
            print(
                f"{'  ' + step:40}{clients:8}{'':18}"
                f"{statistics.median(runs[(step, clients)]):9.1f}{'':23}{statements[step]:7.1f}"
            )
    one_worker = [
        f"{name} at {clients} clients {sum(run.busiest >= ONE_WORKER for run in measured)}"
        f"/{len(measured)}"
        for (name, clients), measured in runs.items()
        if isinstance(measured[0], Run) and any(run.busiest >= ONE_WORKER for run in measured)
    ]
    print(
        f"runs served by one worker (it did >= {ONE_WORKER:.0%} of the server's CPU, so the rate "
        f"is one core's): {', '.join(one_worker) or 'none'}"
    )
    print()
    print("== Ratios (median over pairs of each pair's ratio) ==")
    print(f"{'':58}" + "".join(f"{f'{c} clients':>12}" for c in args.concurrency) + "   goal")
    ratio_rows = [
        ("CPU per payment / floor CPU per request", "pay", "floor", "cpu_ms", False, "<= 10"),
        ("payments/s / floor requests/s", "pay", "floor", "rate", False, ">= 0.1"),
        (
            "CPU of all processes per payment / per floor request",
            "pay",
            "floor",
            "all_cpu_ms",
            False,
            "",
        ),
        ("CPU per bills page / floor CPU per request", "bills", "floor", "cpu_ms", False, ""),
        ("bills pages/s / floor requests/s", "bills", "floor", "rate", False, ""),
        (
            "CPU per receipt download / CPU per /healthz",
            "receipt",
            "healthz",
            "cpu_ms",
            False,
            "<= 3",
        ),
        (
            "CPU per receipt download / CPU per static file",
            "receipt",
            "static",
            "cpu_ms",
            False,
            "",
        ),
        ("static files/s / receipt downloads/s", "receipt", "static", "rate", True, ""),
        ("CPU per 304 / CPU per 200 (receipt)", "receipt 304", "receipt", "cpu_ms", False, "< 1"),
    ]

    def shares(clients: int) -> tuple[float, float]:
        """A payment's CPU / the floor's (the row above), in two: its 3 requests and their
        statements on the floor's stack (3 requests of ``skeleton`` INSERTs, the median over
        pairs), and the rest, the portal's own work."""
        pairs = list(
            zip(
                runs[("pay", clients)],
                runs[("skeleton", clients)],
                runs[("floor", clients)],
                strict=True,
            )
        )
        stack = statistics.median(3 * skel.cpu_ms / floor.cpu_ms for _, skel, floor in pairs)
        return stack, med_ratio("pay", "floor", clients, "cpu_ms") - stack

    for label, name, base, field, invert, goal in ratio_rows:
        print(
            f"{label:58}"
            + "".join(f"{med_ratio(name, base, c, field, invert):12.3f}" for c in args.concurrency)
            + f"   {goal}"
        )
        if (name, field) == ("pay", "cpu_ms"):
            print(
                f"{f'  of which 3 requests of {skeleton} INSERTs on the floor stack':58}"
                + "".join(f"{shares(c)[0]:12.3f}" for c in args.concurrency)
            )
            print(
                f"{'  and the portal own work (the rest)':58}"
                + "".join(f"{shares(c)[1]:12.3f}" for c in args.concurrency)
            )

    print(
        "my bills CPU per page (goal <= 8 ms): "
        + ", ".join(f"{med('bills', c, 'cpu_ms'):.2f} ms at {c} clients" for c in args.concurrency)
    )
    print(
        f"SQL statements per payment: {statements['payment']:.1f} (goal <= 20; pay "
        f"{statements['POST /bills/pay']:.1f}, checkout "
        f"{statements['POST /payments/<id>/checkout']:.1f}, notification "
        f"{statements['POST /billing/notifications/sandbox']:.1f}); counted on a separate "
        "portal started with BENCH_COUNT_SQL (10 of each), not during the timed runs"
    )
    succeeded, payments, settled, events = results["pay_check"]
    print(
        f"database after the runs: {succeeded}/{payments} payments succeeded"
        + (
            f" ({results['cut_off']} were under way when a wrk run ended)"
            if results.get("cut_off")
            else ""
        )
        + f", {settled} settlements posted to the ledger, {events} notifications recorded; "
        f"stored receipt {results['receipt_size']:,} bytes; the floor committed "
        f"{results['floor_rows']:,} rows (one per INSERT, warm-ups included)"
    )

    ms = 1000
    print()
    print(
        f"== GET /bills, payer with {PAGE_BILLS} bills, {args.page_requests} sequential "
        "requests per size (one client) =="
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
        f"ratio large/small CPU per page: {sizes['large']['cpu'] / sizes['small']['cpu']:.2f} "
        "(SQL ms: the page's statements re-run under EXPLAIN ANALYZE, execution times summed; "
        "CPU ms: portal server CPU per request)"
    )
    loaded, vacuumed = results["load"]["large"]
    print(
        f"loading: pay pool + {args.small:,} small bills {results['load']['small']:.1f} s; "
        f"counting pass {results['load']['count']:.1f} s; "
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
