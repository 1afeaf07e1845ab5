"""Benchmark: a year of a 100,000-person town in one database (issue #14's "Capacity").

Run: ``.venv/bin/python bench/town.py [--scale 1] [--requests 20]``; a quick check:
``--scale 0.1``.

The town, at ``--scale 1``: 40,000 households (the payers: 2.5 people each), each with 12
monthly utility bills and 2 property-tax instalments a year, ~1.75 bills less on average for
those moving in or out: 550,000 bills (their services are given in turn by ``bulk_bills``: the
counts follow the shape, not the labels). 85 % of the bills are paid, each by a payment of its
own (a household pays a month's bill when it comes; the pay form can take several, but most pay
one), and 5 % of the bills also have an abandoned payment that expired. A paid bill carries what
the portal writes for it: the payment, its allocation, two status transitions, the provider's
notification, the settlement's journal transaction with its two entries, and the receipt as a
document row. Every ``--pdf-every``-th receipt (and every receipt of the payer whose pages are
measured) keeps its PDF bytes in the database (``--pdf-bytes`` of incompressible bytes: a stored
receipt measures ~25 kB and is compressed already, so TOAST gains nothing); the others have a
``storage_key`` instead, as with object storage, and the database size with all PDFs inside is
extrapolated from the sample. Payments are spread over the past year; the Idempotency-Keys of
the last three days are kept (the hourly purge keeps 48 hours).

Self-contained like ``bench/pay_flow.py`` (whose helpers it reuses): creates its own PostgreSQL
database (``--pg``, trust auth) with ``alembic upgrade head``, bills and their ledger postings
through ``bulk_bills``, the rest in set-based SQL (no ORM: 550,000 bills load in a minute or
two); starts the sandbox provider; builds the portal in this process (``portal.main``, tasks
run inline) and signs a payer and a revenue clerk in through the dev IdP with webtest. Then it
measures, each ``--requests`` times after one warm-up, wall and CPU time (this process:
portal and client together) and SQL statements per request of:

- the payer's pages: "my bills", "my receipts", "my payments" and their CSV, the year's
  receipts as a ZIP;
- the clerk's pages: the department's payments (every payment of the town is the revenue
  office's: the worst case), a search by bill number, the payments that expired, one payment,
  and the reconciliation of yesterday against the sandbox's settlement report;
- the periodic jobs (``@periodic_task``), called as the worker calls them: settling or expiring
  unfinished payments (every minute), purging Idempotency-Keys (hourly), expired sessions (every
  15 minutes), and catching up on unrendered documents (every 5 minutes);

and checks each against its budget (printed; the exit status is 1 if one is over). Finally the
tables' rows and bytes (heap, indexes and TOAST) and bytes per payment. The database is dropped
at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import webtest
from pay_flow import (
    BASE_URL,
    IDP_ENTITY,
    SERVICES,
    admin,
    bulk_bills,
    free_port,
    migrate,
    pg_url,
    portal_settings,
    start_sandbox,
    vacuum_analyze,
    verify,
)
from sqlalchemy import event

import portal
from portal.billing.tasks import purge_idempotency_keys, settle_or_expire_payments
from portal.catalogue.models import Service
from portal.db import get_session_factory
from portal.devidp.idp import LOA_HIGH, LOA_SUBSTANTIAL, DevIdP
from portal.documents.tasks import render_pending_documents
from portal.identity.models import Department, User
from portal.identity.saml import config_metadata
from portal.identity.tasks import purge_identity_records

HOUSEHOLDS = 40_000
BILLS_PER_HOUSEHOLD = 13.75
PAID_PERCENT = 85
EXPIRED_PERCENT = 5
PAYER = "citizen-ana"
CLERK = "clerk-clara"
PAYER_BILLS = 14
#: budgets, ms per request or run. Citizen pages: what the capacity arithmetic assumes per
#: page (README "Capacity"); clerk pages: a few clerks, each page well under a second;
#: periodic jobs: a small share of their period on one worker core.
PAGE_BUDGET_MS = 25
CLERK_BUDGET_MS = 250
ZIP_BUDGET_MS = 500
JOB_BUDGET_MS = 1_000

PAYMENTS_SQL = """
INSERT INTO ledger_account (code, kind) VALUES ('clearing:sandbox', 'clearing')
    ON CONFLICT (code) DO NOTHING;
CREATE TEMP TABLE town_paid ON COMMIT DROP AS
    SELECT b.id AS bill_id, b.payer_user_id AS user_id, b.total_minor AS amount,
           nextval(pg_get_serial_sequence('payment', 'id')) AS payment_id,
           nextval(pg_get_serial_sequence('journal_transaction', 'id')) AS transaction_id,
           now() - make_interval(secs => (b.id::bigint * 7919) %% 31536000) AS paid_at,
           (b.id %% %(pdf_every)s = 0 OR b.payer_user_id = %(payer_id)s) AS with_pdf,
           r.id AS receivable_id
    FROM bill b JOIN ledger_account r ON r.code = 'receivable:user:' || b.payer_user_id
    WHERE (b.id::bigint * 7919) %% 100 < %(paid_percent)s OR b.payer_user_id = %(payer_id)s;
INSERT INTO payment (id, public_id, payer_user_id, provider, provider_payment_id, hosted_url,
                     status, amount_minor, currency, refunded_minor, method, created_at,
                     expires_at, settled_at, version)
    SELECT payment_id, replace(gen_random_uuid()::text, '-', ''), user_id, 'sandbox',
           'pay_' || md5(payment_id::text),
           'https://pay.example/checkout/' || md5(payment_id::text),
           'succeeded', amount, 'EUR', 0, 'card', paid_at - interval '2 minutes',
           paid_at + interval '28 minutes', paid_at, 3
    FROM town_paid;
INSERT INTO payment_allocation (payment_id, bill_id, amount_minor, refunded_minor)
    SELECT payment_id, bill_id, amount, 0 FROM town_paid;
INSERT INTO payment_transition (payment_id, from_status, to_status, cause, at)
    SELECT payment_id, 'created', 'started', 'checkout started', paid_at - interval '1 minute'
    FROM town_paid
    UNION ALL
    SELECT payment_id, 'started', 'succeeded', 'provider notification', paid_at FROM town_paid;
INSERT INTO provider_event (provider, event_id, type, payment_id, received_at)
    SELECT 'sandbox', 'evt_' || md5(payment_id::text), 'payment.succeeded', payment_id, paid_at
    FROM town_paid;
INSERT INTO journal_transaction (id, kind, idempotency, description, created_at)
    SELECT transaction_id, 'payment_settled', 'payment:' || payment_id || ':settled',
           'Payment ' || p.public_id, paid_at
    FROM town_paid JOIN payment p ON p.id = payment_id;
INSERT INTO journal_entry (transaction_id, account_id, bill_id, amount_minor, currency)
    SELECT transaction_id, (SELECT id FROM ledger_account WHERE code = 'clearing:sandbox'),
           NULL, amount, 'EUR' FROM town_paid
    UNION ALL
    SELECT transaction_id, receivable_id, bill_id, -amount, 'EUR' FROM town_paid;
INSERT INTO document (kind, series, fiscal_year, sequence, number, verification_code,
                      owner_user_id, locale, issued_at, pdf, sha256, emailed_at, payment_id,
                      amount_minor, currency, storage_key)
    SELECT 'receipt', 'R', year, seq, 'R-' || year || '-' || lpad(seq::text, 6, '0'),
           upper(lpad(to_hex(payment_id), 10, '0')), user_id, 'sl', paid_at,
           CASE WHEN with_pdf THEN %(pdf)s END,
           CASE WHEN with_pdf THEN encode(sha256(%(pdf)s), 'hex')
                ELSE md5(payment_id::text) || md5(bill_id::text) END,
           paid_at + interval '1 minute', payment_id, amount, 'EUR',
           CASE WHEN NOT with_pdf THEN 'documents/' || md5(payment_id::text) END
    FROM (SELECT *, extract(year FROM paid_at)::int AS year,
                 row_number() OVER (PARTITION BY extract(year FROM paid_at)
                                    ORDER BY paid_at, payment_id)::int AS seq
          FROM town_paid) numbered;
INSERT INTO document_counter (series, fiscal_year, last_number)
    SELECT 'R', fiscal_year, max(sequence) FROM document GROUP BY fiscal_year;
INSERT INTO idempotency_key (user_id, key, fingerprint, payment_id, created_at)
    SELECT user_id, md5('key' || payment_id), md5('fp' || payment_id), payment_id, paid_at
    FROM town_paid WHERE paid_at > now() - interval '3 days';
CREATE TEMP TABLE town_expired ON COMMIT DROP AS
    SELECT b.id AS bill_id, b.payer_user_id AS user_id, b.total_minor AS amount,
           nextval(pg_get_serial_sequence('payment', 'id')) AS payment_id,
           now() - make_interval(secs => (b.id::bigint * 104729) %% 31536000) AS started_at
    FROM bill b WHERE (b.id::bigint * 31) %% 100 < %(expired_percent)s;
INSERT INTO payment (id, public_id, payer_user_id, provider, provider_payment_id, hosted_url,
                     status, amount_minor, currency, refunded_minor, method, created_at,
                     expires_at, version)
    SELECT payment_id, replace(gen_random_uuid()::text, '-', ''), user_id, 'sandbox',
           'pay_' || md5(payment_id::text),
           'https://pay.example/checkout/' || md5(payment_id::text),
           'expired', amount, 'EUR', 0, NULL, started_at, started_at + interval '30 minutes', 3
    FROM town_expired;
INSERT INTO payment_allocation (payment_id, bill_id, amount_minor, refunded_minor)
    SELECT payment_id, bill_id, amount, 0 FROM town_expired;
INSERT INTO payment_transition (payment_id, from_status, to_status, cause, at)
    SELECT payment_id, 'created', 'started', 'checkout started', started_at FROM town_expired
    UNION ALL
    SELECT payment_id, 'started', 'expired', 'not finished in time',
           started_at + interval '30 minutes' FROM town_expired;
"""

#: what a paid bill adds to the ledger and the documents is balanced and complete
TOWN_CHECKS = {
    "unbalanced settlements": """
        SELECT count(*) FROM (SELECT 1 FROM journal_entry e
                              JOIN journal_transaction t ON t.id = e.transaction_id
                              WHERE t.kind = 'payment_settled'
                              GROUP BY e.transaction_id HAVING sum(e.amount_minor) <> 0) x""",
    "succeeded payments without one receipt": """
        SELECT count(*) FROM payment p WHERE p.status = 'succeeded'
        AND (SELECT count(*) FROM document d WHERE d.payment_id = p.id) <> 1""",
    "receipts numbered with gaps": """
        SELECT count(*) FROM (SELECT fiscal_year FROM document GROUP BY fiscal_year
                              HAVING max(sequence) <> count(*)) x""",
}

TABLES = (
    "user_account",
    "bill",
    "bill_line",
    "payment",
    "payment_allocation",
    "payment_transition",
    "provider_event",
    "journal_transaction",
    "journal_entry",
    "ledger_account",
    "document",
    "idempotency_key",
    "web_session",
)


class Statements:
    """Counts the SQL statements ``engine`` runs while active."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def _record(self, *args) -> None:
        self.count += 1

    def __enter__(self):
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def timed(run, repeat: int, statements: Statements) -> dict:
    """Wall and CPU ms of ``run()`` (best and median of ``repeat``, after one warm-up) and the
    statements of one run."""
    with statements:
        run()
    counted = statements.count
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    cpus.sort()
    return {
        "wall": walls[len(walls) // 2],
        "cpu": cpus[len(cpus) // 2],
        "cpu_min": cpus[0],
        "sql": counted,
    }


def sign_in(app: webtest.TestApp, idp: DevIdP, persona: str, loa: str) -> None:
    """The whole SP-initiated SAML sign-in through the dev IdP."""
    response = app.get("/saml/login", params={"next": "/bills", "loa": loa}, status=303)
    acs_url, saml_response, relay_state = idp.respond(response.location, persona, loa)
    app.post(
        urlsplit(acs_url).path,
        {"SAMLResponse": saml_response, "RelayState": relay_state or ""},
        status=303,
    )


def fill(url: str, args, payer_id: int) -> dict[str, float]:
    """The year's data; seconds of each step."""
    seconds = {}
    households = max(1, round(HOUSEHOLDS * args.scale))
    bills = round(households * BILLS_PER_HOUSEHOLD)
    began = time.perf_counter()
    bulk_bills(url, PAYER_BILLS, "payer", payer_id=payer_id)
    bulk_bills(url, bills, "town", payers=households)
    seconds["bills"] = time.perf_counter() - began
    began = time.perf_counter()
    with psycopg.connect(url) as connection:
        connection.execute("SET LOCAL session_replication_role = replica")
        params = {
            "pdf_every": args.pdf_every,
            "payer_id": payer_id,
            "paid_percent": PAID_PERCENT,
            "expired_percent": EXPIRED_PERCENT,
            "pdf": os.urandom(args.pdf_bytes),
        }
        for statement in PAYMENTS_SQL.split(";\n"):
            if statement.strip():
                connection.execute(statement, params)
    seconds["payments"] = time.perf_counter() - began
    began = time.perf_counter()
    vacuum_analyze(url)
    seconds["vacuum"] = time.perf_counter() - began
    return seconds


def checks(url: str) -> dict[str, int]:
    found = verify(url)
    with psycopg.connect(url) as connection:
        for name, sql in TOWN_CHECKS.items():
            found[name] = connection.execute(sql).fetchone()[0]
    return found


def table_bytes(url: str) -> dict[str, tuple[int, int, int, int]]:
    """(rows, heap bytes, index bytes, TOAST bytes) of each table."""
    sizes = {}
    with psycopg.connect(url) as connection:
        for table in TABLES:
            rows = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            heap, indexes, total = connection.execute(
                "SELECT pg_relation_size(%(t)s), pg_indexes_size(%(t)s), "
                "pg_total_relation_size(%(t)s)",
                {"t": table},
            ).fetchone()
            sizes[table] = (rows, heap, indexes, total - heap - indexes)
        sizes["(database)"] = (
            0,
            connection.execute("SELECT pg_database_size(current_database())").fetchone()[0],
            0,
            0,
        )
        sizes["(receipts with PDF bytes)"] = (
            connection.execute("SELECT count(*) FROM document WHERE pdf IS NOT NULL").fetchone()[0],
            0,
            0,
            0,
        )
    return sizes


def measure(app_pages: dict, jobs: dict, registry, repeat: int, statements: Statements) -> list:
    results = []
    for label, (budget, run) in app_pages.items():
        results.append((label, budget, timed(run, repeat, statements)))
    for label, (budget, job) in jobs.items():
        results.append((label, budget, timed(lambda job=job: job(registry), 3, statements)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the 100,000 town")
    parser.add_argument("--requests", type=int, default=20, help="measured requests per page")
    parser.add_argument(
        "--pdf-every", type=int, default=50, help="1 in N receipts keeps its PDF bytes"
    )
    parser.add_argument("--pdf-bytes", type=int, default=25_000, help="a stored receipt's size")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    loadavg = [os.getloadavg()]
    began = time.perf_counter()
    database = f"bench_town_{os.getpid()}_{secrets.token_hex(3)}"
    url = pg_url(args, database)
    sandbox = None
    with tempfile.TemporaryDirectory(prefix="town_") as tmp_name, admin(args) as pg:
        tmp = Path(tmp_name)
        pg.execute(f"CREATE DATABASE {database}")
        try:
            migrate(url)
            sandbox_port = free_port()
            idp = DevIdP(tmp / "idp", IDP_ENTITY, str(tmp / "sp-metadata.xml"))
            settings = portal_settings(url, tmp, idp, sandbox_port, "immediate")
            settings["saml.group_roles"] = "clerk:revenue = clerk revenue"
            settings["portal.secure_cookies"] = "true"
            wsgi_app = portal.main({}, **settings)
            (tmp / "sp-metadata.xml").write_bytes(config_metadata(wsgi_app.registry["saml"]))
            sandbox = start_sandbox(tmp, sandbox_port)
            registry = wsgi_app.registry
            engine = registry["dbsession_factory"].kw["bind"]
            with get_session_factory(engine)() as dbsession:
                department = Department(code="revenue", name="Revenue Office")
                dbsession.add_all(
                    [Service(code=c, name=n, department=department) for c, n in SERVICES]
                )
                dbsession.commit()
            environ = {"wsgi.url_scheme": "https", "HTTP_HOST": urlsplit(BASE_URL).netloc}
            payer = webtest.TestApp(wsgi_app, extra_environ=environ)
            clerk = webtest.TestApp(wsgi_app, extra_environ=environ)
            sign_in(payer, idp, PAYER, LOA_SUBSTANTIAL)
            sign_in(clerk, idp, CLERK, LOA_HIGH)
            with get_session_factory(engine)() as dbsession:
                payer_id = dbsession.query(User.id).filter(User.name_id == PAYER).scalar()
            loading = fill(url, args, payer_id)
            found = checks(url)
            sizes = table_bytes(url)
            with psycopg.connect(url) as connection:
                bill_number, payment_id, year = connection.execute(
                    "SELECT b.number, p.public_id, d.fiscal_year FROM bill b "
                    "JOIN payment_allocation a ON a.bill_id = b.id "
                    "JOIN payment p ON p.id = a.payment_id "
                    "JOIN document d ON d.payment_id = p.id "
                    "WHERE b.payer_user_id = %s ORDER BY p.id LIMIT 1",
                    [payer_id],
                ).fetchone()
            yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
            payments = "/backoffice/departments/revenue/payments"
            pages = {
                "payer: my bills (GET /bills)": (PAGE_BUDGET_MS, lambda: payer.get("/bills")),
                "payer: my receipts (GET /receipts)": (
                    PAGE_BUDGET_MS,
                    lambda: payer.get("/receipts"),
                ),
                "payer: my payments (GET /payments)": (
                    PAGE_BUDGET_MS,
                    lambda: payer.get("/payments"),
                ),
                "payer: my payments as CSV": (PAGE_BUDGET_MS, lambda: payer.get("/payments.csv")),
                f"payer: receipts of {year} as ZIP": (
                    ZIP_BUDGET_MS,
                    lambda: payer.get(f"/receipts/year/{year}.zip"),
                ),
                "clerk: department payments": (CLERK_BUDGET_MS, lambda: clerk.get(payments)),
                "clerk: search by bill number": (
                    CLERK_BUDGET_MS,
                    lambda: clerk.get(payments, {"q": bill_number}),
                ),
                "clerk: expired payments": (
                    CLERK_BUDGET_MS,
                    lambda: clerk.get(payments, {"status": "expired"}),
                ),
                "clerk: one payment": (
                    CLERK_BUDGET_MS,
                    lambda: clerk.get(f"/backoffice/payments/{payment_id}"),
                ),
                "clerk: reconciliation of yesterday": (
                    CLERK_BUDGET_MS,
                    lambda: clerk.get("/backoffice/reconciliation", {"date": yesterday}),
                ),
            }
            jobs = {
                "job: settle_or_expire_payments (1/min)": (
                    JOB_BUDGET_MS,
                    settle_or_expire_payments,
                ),
                "job: purge_idempotency_keys (hourly)": (JOB_BUDGET_MS, purge_idempotency_keys),
                "job: purge_identity_records (15 min)": (JOB_BUDGET_MS, purge_identity_records),
                "job: render_pending_documents (5 min)": (
                    JOB_BUDGET_MS,
                    render_pending_documents,
                ),
            }
            results = measure(pages, jobs, registry, args.requests, Statements(engine))
        finally:
            if sandbox is not None:
                sandbox.stop()
            if not args.keep:
                pg.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    loadavg.append(os.getloadavg())
    over = report(args, loading, found, sizes, results, loadavg, time.perf_counter() - began)
    if args.keep:
        print(f"database kept: {database}")
    sys.exit(1 if over or any(found.values()) else 0)


def report(args, loading, found, sizes, results, loadavg, elapsed) -> bool:
    mb = 1024 * 1024
    households = max(1, round(HOUSEHOLDS * args.scale))
    print(
        f"== A year of a town of {round(100_000 * args.scale):,} people (scale {args.scale:g}): "
        f"{households:,} households, {BILLS_PER_HOUSEHOLD:g} bills each, {PAID_PERCENT} % paid "
        f"(one payment per bill), {EXPIRED_PERCENT} % with an expired attempt =="
    )
    print(
        f"loading: bills and their postings {loading['bills']:.1f} s, payments, receipts and "
        f"the rest {loading['payments']:.1f} s, VACUUM ANALYZE {loading['vacuum']:.1f} s"
    )
    print("integrity checks (all must be 0): " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print()
    print(
        f"{'table':22}{'rows':>12}{'heap MB':>10}{'index MB':>10}{'TOAST MB':>10}{'total MB':>10}"
    )
    total_rows = 0
    for table in TABLES:
        rows, heap, indexes, toast = sizes[table]
        total_rows += rows
        print(
            f"{table:22}{rows:12,}{heap / mb:10.1f}{indexes / mb:10.1f}{toast / mb:10.1f}"
            f"{(heap + indexes + toast) / mb:10.1f}"
        )
    database = sizes["(database)"][1]
    payments = sizes["payment"][0]
    receipts = sizes["document"][0]
    with_pdf = sizes["(receipts with PDF bytes)"][0]
    doc_toast = sizes["document"][3]
    pdf_per_receipt = doc_toast / max(1, with_pdf)
    all_pdfs = pdf_per_receipt * receipts
    # the town's tables only: the empty ones and the catalogue are a fixed ~10 MB
    without_pdfs = sum(sum(sizes[table][1:]) for table in TABLES) - doc_toast
    print(
        f"database {database / mb:,.0f} MB in all; {with_pdf:,} of {receipts:,} receipts keep "
        f"their PDF in the database ({pdf_per_receipt / 1024:.1f} kB TOAST each), the others a "
        "storage key"
    )
    print(
        f"the tables above without PDFs (object storage): {without_pdfs / mb:,.0f} MB = "
        f"{without_pdfs / payments / 1024:.2f} kB per payment ({payments:,} payments incl. "
        f"expired, {total_rows:,} rows = {total_rows / payments:.1f} per payment)"
    )
    print(
        f"the same with every PDF in the database: {(without_pdfs + all_pdfs) / mb:,.0f} MB = "
        f"{(without_pdfs + all_pdfs) / payments / 1024:.1f} kB per payment"
    )
    per_million = 1_000_000 / payments
    print(
        "per million payments (with the bills they pay): "
        f"{total_rows * per_million / 1e6:.1f} M rows, "
        f"{without_pdfs * per_million / 1024**3:.2f} GB without PDFs, "
        f"{(without_pdfs + all_pdfs) * per_million / 1024**3:.1f} GB with them"
    )
    print()
    print(
        f"== Pages ({args.requests} requests each after a warm-up, in this process: portal and "
        "webtest client together) and periodic jobs (3 runs each) =="
    )
    print(f"{'':44}{'wall ms':>9}{'CPU ms':>9}{'min CPU':>9}{'SQL':>6}{'budget':>8}")
    over = False
    for label, budget, figures in results:
        flag = "" if figures["wall"] <= budget else "  OVER"
        over = over or bool(flag)
        print(
            f"{label:44}{figures['wall']:9.1f}{figures['cpu']:9.1f}{figures['cpu_min']:9.1f}"
            f"{figures['sql']:6}{budget:8}{flag}"
        )
    start, end = loadavg
    print(
        f"\ntotal {elapsed:.0f} s; load average (1/5/15 min) at start {start[0]:.1f}/"
        f"{start[1]:.1f}/{start[2]:.1f}, at end {end[0]:.1f}/{end[1]:.1f}/{end[2]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    return over


if __name__ == "__main__":
    main()
