"""Mixed traffic through nginx against a running ``make prod-local`` (issue #14, "Load").

Run ``make prod-local`` in one terminal, then ``.venv/bin/python bench/load.py [--seconds 60]
[--citizens 4] [--clerks 1] [--importers 1] [--bills 10]``. It drives, from this process,
keep-alive clients (``bench/pay_flow.py``'s ``Client`` and ``sign_in``, through the development
IdP's own keys, each signed in once) at nginx on :8080:

- citizens: "My bills", then paying one bill as a browser does (``POST /bills/pay``, the
  checkout, the sandbox's hosted page with its test card, back to the portal's return page);
  the sandbox's own notification reaches the portal through nginx, as in production; every
  third round the receipts page and one receipt's PDF;
- clerks (``clerk-clara``, revenue office): the department's payments and one payment's page;
- importers: ``POST /api/v1/bills`` with a service's API key (made with ``portal-api-key``),
  bills for the citizens' national ids, which the citizens then pay. ``--bills`` per citizen
  are imported before the clock starts, so nobody waits for a bill.

It reports requests/s, p50/p95/p99 and errors per kind of request, every 5xx answer (none may
carry a traceback), and the portal's CPU per completed payment: the app servers' and task
workers' user + system time from /proc (``pay_flow.tree_cpu_seconds``), from the start of the
load until the payments it made are settled with rendered receipts, divided by those payments
(all the other requests of the mix are in that CPU too). Then ``bench/endstate.py``'s checks;
exit 1 if one fails or a 5xx carried a traceback.

``bench/faults.py`` runs this same load while it breaks parts of the system.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import endstate  # noqa: E402
import pay_flow  # noqa: E402  (the keep-alive client, sign-in, /proc CPU)

from deploy.check_prod_local import TEST_CARD  # noqa: E402
from deploy.prod_local import BASE_URL, IDP_URL, RUN  # noqa: E402
from deploy.supervise import read_environment_file  # noqa: E402
from portal.devidp.idp import LOA_HIGH, DevIdP  # noqa: E402
from portal.devidp.personas import PERSONAS_BY_ID  # noqa: E402

NGINX_PORT = urlsplit(BASE_URL).port
CITIZENS = ("citizen-ana", "citizen-ben", "citizen-chloe")
CLERK = "clerk-clara"
DEPARTMENT = "revenue"
SERVICE = "water"
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"/[^\"]+\.py\", line \d+")
RECEIPT_LINK = re.compile(r'href="(/receipts/[^"/]+\.pdf)"')
BACKOFFICE_PAYMENT_LINK = re.compile(r'href="(/backoffice/payments/[0-9a-f]+)"')

# pay_flow's Client speaks as a proxy in front of the portal would; here nginx is that proxy,
# so the client sends what a browser at http://localhost:8080 sends.
pay_flow.PROXY_HEADERS = {"Host": f"localhost:{NGINX_PORT}"}
pay_flow.BASE_URL = BASE_URL


def origin_of(status: int, body: bytes) -> str:
    """Who wrote a 5xx answer: nginx (no app server answered), gunicorn's bare page (the
    portal's own error page failed too), or the portal (its error page or problem JSON)."""
    if b"<center>nginx</center>" in body:
        return "nginx's page"
    if b"<h1><p>Internal Server Error</p></h1>" in body:
        return "gunicorn's bare page"
    return "the portal's problem JSON" if body.lstrip().startswith(b"{") else "the portal's page"


class Unexpected(Exception):
    """An answer the scenario did not expect (its status and the start of its body)."""


class Stats:
    """Latencies, errors and 5xx answers per kind of request, from every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.server_errors: list[tuple[str, int, float]] = []
        self.origins: dict[str, int] = defaultdict(int)
        self.tracebacks: list[tuple[str, bytes]] = []
        self.window = (0.0, 0.0)
        #: set when a payment has been created and not yet paid (bench/faults.py waits for it)
        self.payment_in_flight = threading.Event()

    def call(self, kind: str, client, method: str, path: str, body=None, headers=None, expect=200):
        """One request, timed and counted under ``kind``; an unexpected status raises."""
        began = time.perf_counter()
        try:
            status, answer_headers, data = client.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            client.connection.close()  # a fresh connection next time
            self.error(kind, f"{type(error).__name__}: {error}")
            raise Unexpected(kind) from error
        elapsed = time.perf_counter() - began
        with self.lock:
            self.latencies[kind].append(elapsed)
            if status >= 500:
                self.server_errors.append((kind, status, time.perf_counter()))
                self.origins[origin_of(status, data)] += 1
                if TRACEBACK.search(data):
                    self.tracebacks.append((kind, data[:2000]))
        if status != expect:
            self.error(kind, f"{status}: {data[:120]!r}")
            raise Unexpected(kind)
        return answer_headers, data

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind].append(what)

    def totals(self) -> tuple[int, int, int]:
        """(answers, errors, 5xx answers) so far, over every kind."""
        with self.lock:
            return (
                sum(map(len, self.latencies.values())),
                sum(map(len, self.errors.values())),
                len(self.server_errors),
            )


@dataclass
class Citizen:
    persona: str
    client: pay_flow.Client
    bills: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)  # the sandbox's ids of the payments made
    rounds: int = 0


def form(client: pay_flow.Client, fields: dict) -> tuple[str, dict]:
    return urlencode({"csrf_token": client.csrf_token, **fields}), {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": BASE_URL,
    }


def pay_one(stats: Stats, citizen: Citizen, sandbox: pay_flow.Client) -> None:
    """One bill paid as a browser pays it; the sandbox notifies the portal by itself."""
    client = citizen.client
    public_id = citizen.bills.pop()
    body, headers = form(client, {"only": public_id})
    answer, _ = stats.call(
        "POST /bills/pay",
        client,
        "POST",
        "/bills/pay",
        body,
        {**headers, "Idempotency-Key": uuid.uuid4().hex},
        expect=303,
    )
    stats.payment_in_flight.set()
    checkout = urlsplit(answer["Location"]).path
    body, headers = form(client, {})
    answer, _ = stats.call(
        "POST /payments/<id>/checkout", client, "POST", checkout, body, headers, expect=303
    )
    hosted = urlsplit(answer["Location"])
    answer, _ = stats.call(
        "sandbox: card on the hosted page",
        sandbox,
        "POST",
        hosted.path,
        urlencode(TEST_CARD),
        {"Content-Type": "application/x-www-form-urlencoded"},
        expect=303,
    )
    citizen.paid.append(hosted.path.rsplit("/", 1)[1])
    back = urlsplit(answer["Location"])
    answer, _ = stats.call(
        "GET /payments/<id>?psp_id= (return)",
        client,
        "GET",
        f"{back.path}?{back.query}",
        expect=303,
    )
    stats.call("GET /payments/<id>", client, "GET", urlsplit(answer["Location"]).path)


def citizen_round(stats: Stats, citizen: Citizen, sandbox: pay_flow.Client) -> None:
    citizen.rounds += 1
    stats.call("GET /bills", citizen.client, "GET", "/bills")
    if citizen.bills:
        pay_one(stats, citizen, sandbox)
    if citizen.rounds % 3 == 0:
        _, page = stats.call("GET /receipts", citizen.client, "GET", "/receipts")
        links = RECEIPT_LINK.findall(page.decode())
        if links:
            stats.call("GET /receipts/<number>.pdf", citizen.client, "GET", links[0])


def clerk_round(stats: Stats, clerk: pay_flow.Client) -> None:
    path = f"/backoffice/departments/{DEPARTMENT}/payments"
    _, page = stats.call("GET /backoffice/departments/<d>/payments", clerk, "GET", path)
    links = BACKOFFICE_PAYMENT_LINK.findall(page.decode())
    if links:
        stats.call("GET /backoffice/payments/<id>", clerk, "GET", links[0])


class HighAssurance:
    """The IdP answering at the high level of assurance clerk pages require (pay_flow's
    ``sign_in`` asks for the substantial level citizens pay with)."""

    def __init__(self, idp: DevIdP):
        self.idp = idp

    def respond(self, query, persona_id, loa=None):
        return self.idp.respond(query, persona_id, LOA_HIGH)


class Importer:
    """A service's integration issuing bills to the citizens over the API."""

    def __init__(self, token: str, citizens: list[Citizen]):
        self.client = pay_flow.Client(NGINX_PORT)
        self.token = token
        self.citizens = itertools.cycle(citizens)
        self.lock = threading.Lock()

    def keep_up(self, stats: Stats, stock: int) -> None:
        """A bill for the next citizen with fewer than ``stock`` left to pay: bills are
        issued about as fast as they are paid, as over a month of a town."""
        with self.lock:
            citizen = next(self.citizens)
        if len(citizen.bills) < stock:
            self.import_one(stats, citizen)
        else:
            time.sleep(0.1)

    def import_one(self, stats: Stats, citizen: Citizen, kind: str = "POST /api/v1/bills"):
        body = {
            "payer": {"national_id": PERSONAS_BY_ID[citizen.persona].national_id},
            "number": f"LOAD-{uuid.uuid4().hex[:16]}",
            "description": "Water supply, load test",
            "due_date": "2030-01-31",
            "currency": "EUR",
            "lines": [{"description": "Water", "amount": 1000 + len(citizen.bills)}],
        }
        _, answer = stats.call(
            kind,
            self.client,
            "POST",
            "/api/v1/bills",
            json.dumps(body).encode(),
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            expect=201,
        )
        citizen.bills.append(json.loads(answer)["public_id"])


# The running prod-local: its environment, its processes


def prod_local_environment() -> dict[str, str]:
    path = RUN / "portal.env"
    if not path.exists():
        sys.exit(f"no {path}: start `make prod-local` first")
    return read_environment_file(path)


def make_api_key(environment: dict[str, str]) -> str:
    """A key of the water service, made as an operator makes one (``portal-api-key``)."""
    made = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "portal-api-key"), "production.ini", SERVICE, "load test"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def supervised() -> dict[str, int]:
    """prod-local's processes by their Procfile name: ``{"web1": pid, ...}``, the pid the
    supervisor started (the process group's leader), found under deploy/supervise.py."""
    supervisors = [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit()
        and "deploy.supervise" in _cmdline(int(pid))
        and str(ROOT) in _cmdline(int(pid))
    ]
    if not supervisors:
        sys.exit("no deploy/supervise.py of this checkout is running: start `make prod-local`")
    found: dict[str, int] = {}
    for child in sorted(pay_flow._children(supervisors[0])):
        tree = " ".join(_cmdline(pid) for pid in [child, *pay_flow._children(child)])
        for name, mark in (
            ("web1", "http_port=6551"),
            ("web2", "http_port=6552"),
            ("sandbox", "portal-sandbox"),
            ("nginx", "nginx"),
        ):
            if mark in tree:
                found[name] = child
        if "portal-worker" in tree:
            found["worker2" if "worker1" in found else "worker1"] = child
    return found


class PortalCPU:
    """The app servers' and workers' CPU seconds, sampled each second per process so that a
    process killed and restarted keeps what it had used (up to the last sample)."""

    NAMES = ("web1", "web2", "worker1", "worker2")

    def __init__(self):
        self.last: dict[int, float] = {}
        self.stopped = threading.Event()
        self.sample()
        self.baseline = sum(self.last.values())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        for name, pid in supervised().items():
            if name in self.NAMES:
                seconds = pay_flow.tree_cpu_seconds(pid)
                if seconds > 0:
                    self.last[pid] = max(seconds, self.last.get(pid, 0.0))

    def _run(self) -> None:
        while not self.stopped.wait(1.0):
            self.sample()

    def stop(self) -> float:
        self.stopped.set()
        self.thread.join()
        self.sample()
        return sum(self.last.values()) - self.baseline


# The run


@dataclass
class Setup:
    environment: dict[str, str]
    citizens: list[Citizen]
    clerks: list[pay_flow.Client]
    importers: list[Importer]


def prepare(args) -> Setup:
    environment = prod_local_environment()
    idp = DevIdP(RUN / "devidp", IDP_URL, f"{BASE_URL}/saml/metadata")
    started = time.perf_counter()
    citizens = [
        Citizen(persona, pay_flow.sign_in(NGINX_PORT, idp, persona))
        for persona in itertools.islice(itertools.cycle(CITIZENS), args.citizens)
    ]
    # a clerk of DEPARTMENT through the IdP's groups (SAML_GROUP_ROLES in prod-local's env)
    clerks = [pay_flow.sign_in(NGINX_PORT, HighAssurance(idp), CLERK) for _ in range(args.clerks)]
    print(
        f"signed in {len(citizens)} citizens and {len(clerks)} clerks through the IdP"
        f" in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    token = make_api_key(environment)
    importers = [Importer(token, citizens) for _ in range(max(1, args.importers))]
    setup_stats = Stats()
    started = time.perf_counter()
    for citizen in citizens:
        for _ in range(args.bills):
            importers[0].import_one(setup_stats, citizen, "setup: POST /api/v1/bills")
    print(
        f"imported {args.bills * len(citizens)} bills over the API"
        f" in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Setup(environment, citizens, clerks, importers[: args.importers])


def drive(setup: Setup, seconds: float, stats: Stats, stock: int, during=None) -> None:
    """Every client in a thread of its own until ``seconds`` have passed (or ``during``, run
    meanwhile in this thread, has returned, if later)."""
    stop = threading.Event()

    def loop(round_):
        while not stop.is_set():
            try:
                round_()
            except Unexpected:
                time.sleep(0.5)  # counted; as a person would, try again a moment later

    sandbox_port = int(urlsplit(setup.environment["BILLING_SANDBOX_BASE_URL"]).port)
    sandboxes = [pay_flow.Client(sandbox_port) for _ in setup.citizens]
    rounds = [
        (lambda c=c, s=s: citizen_round(stats, c, s))
        for c, s in zip(setup.citizens, sandboxes, strict=True)
    ]
    rounds += [(lambda c=c: clerk_round(stats, c)) for c in setup.clerks]
    rounds += [(lambda i=i: i.keep_up(stats, stock)) for i in setup.importers]
    threads = [threading.Thread(target=loop, args=(r,), daemon=True) for r in rounds]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    time.sleep(max(0.0, began + seconds - time.perf_counter()))
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    stats.window = (began, time.perf_counter())


def wait_settled(psp_ids: list[str], seconds: float) -> int:
    """Seconds up to ``seconds`` until every payment the clients completed at the sandbox is
    settled in the portal with its receipt rendered; returns how many are."""
    engine = endstate.portal_engine(RUN / "portal.env")
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as connection:
                done = connection.scalar(
                    text(
                        "SELECT count(*) FROM payment p JOIN document d"
                        " ON d.payment_id = p.id AND d.kind = 'receipt' AND d.refund_id IS NULL"
                        " WHERE p.provider_payment_id = ANY(:ids) AND d.sha256 IS NOT NULL"
                    ),
                    {"ids": psp_ids},
                )
            if done >= len(psp_ids) or time.monotonic() >= deadline:
                return done
            time.sleep(1)
    finally:
        engine.dispose()


def report(stats: Stats, payments: int, cpu: float, made: int) -> None:
    elapsed = stats.window[1] - stats.window[0]
    total = sum(len(v) for v in stats.latencies.values())
    print(
        f"\n{total} requests in {elapsed:.0f} s: {total / elapsed:.1f}/s through nginx; "
        f"{made} payments completed at the sandbox ({made / elapsed:.2f}/s)"
    )
    print(f"{'kind':<44}{'n':>6}{'/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for kind in sorted(set(stats.latencies) | set(stats.errors)):
        values = stats.latencies.get(kind, [])
        p = [1000 * pay_flow.quantile(values, q) for q in (0.5, 0.95, 0.99)]
        print(
            f"{kind:<44}{len(values):>6}{len(values) / elapsed:>7.1f}"
            f"{p[0]:>9.0f}{p[1]:>9.0f}{p[2]:>9.0f}{len(stats.errors.get(kind, [])):>8}"
        )
    for kind, errors in sorted(stats.errors.items()):
        print(f"  {kind}: first errors: {errors[:3]}")
    print(
        f"5xx answers: {len(stats.server_errors)}"
        + (
            f" ({', '.join(sorted({f'{k} {s}' for k, s, _ in stats.server_errors}))})"
            if stats.server_errors
            else ""
        )
        + f"; with a traceback: {len(stats.tracebacks)}"
        + "".join(f"\n  {n} from {origin}" for origin, n in sorted(stats.origins.items()))
    )
    for kind, body in stats.tracebacks[:2]:
        print(f"  {kind}: {body[:600]!r}")
    per_payment = 1000 * cpu / payments if payments else float("nan")
    print(
        f"portal CPU (2 app servers + 2 workers): {cpu:.1f} s for {payments} settled payments"
        f" = {per_payment:.0f} ms per completed payment (the whole mix included)"
    )
    print(
        f"machine load average: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}"
        f" {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores\n",
        flush=True,
    )


def finish(stats: Stats, setup: Setup, cpu_meter: PortalCPU, settle_seconds: float) -> bool:
    """Wait for the payments to settle, stop the CPU meter, report, run the end-state checks."""
    made = [psp for citizen in setup.citizens for psp in citizen.paid]
    print(
        f"load stopped; waiting up to {settle_seconds:.0f} s for {len(made)} payments to settle",
        flush=True,
    )
    payments = wait_settled(made, settle_seconds)
    cpu = cpu_meter.stop()
    report(stats, payments, cpu, len(made))
    checks = endstate.run_checks(RUN / "portal.env", RUN / "var" / "sandbox.db", settle_seconds)
    return checks and not stats.tracebacks


def options(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--citizens", type=int, default=4)
    parser.add_argument("--clerks", type=int, default=1)
    parser.add_argument("--importers", type=int, default=1)
    parser.add_argument(
        "--bills",
        type=int,
        default=10,
        help="bills per citizen imported before the start; importers keep each at this stock",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=150,
        help="seconds to wait afterwards for the payments to settle",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = options(__doc__.splitlines()[0]).parse_args(argv)
    setup = prepare(args)
    stats = Stats()
    cpu_meter = PortalCPU()
    print(
        f"load for {args.seconds:.0f} s: {args.citizens} citizens, {args.clerks} clerks,"
        f" {args.importers} importers",
        flush=True,
    )
    drive(setup, args.seconds, stats, args.bills)
    return 0 if finish(stats, setup, cpu_meter, args.settle) else 1


if __name__ == "__main__":
    sys.exit(main())
