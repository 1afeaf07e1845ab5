"""The end state after a load or fault run (issue #14): nothing lost, doubled or left open.

Run: ``.venv/bin/python bench/endstate.py [--env var/prod-local/portal.env]
[--sandbox-db var/prod-local/var/sandbox.db] [--wait 150]``; exits 1 if any check fails.
``bench/load.py`` and ``bench/faults.py`` call :func:`run_checks` after their runs.

The truth about money is the provider's: every payment the sandbox's own store records as
succeeded (for the portal's merchant) must be settled in the portal, with exactly one ledger
settlement (``payment:<id>:settled``) and exactly one receipt, rendered. The portal learns of a
success from a notification or, when those are lost or late, from its periodic job that asks
the provider once a minute; so those two checks are retried for ``--wait`` seconds before they
fail. The others hold at any moment or never: no payment open past its expiry (with a grace of
two job periods), every journal transaction balanced per currency, receipt (and other document)
numbers 1..n with no gap per series and year, and no provider event or success applied twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from deploy.supervise import read_environment_file  # noqa: E402  (the checkout's deploy/)

RUN = ROOT / "var" / "prod-local"
SETTLED_STATES = ("succeeded", "partly_refunded", "refunded")
OPEN_STATES = ("created", "started")
#: the periodic job runs each minute; a payment may be this far past expiry before it is late
EXPIRY_GRACE_SECONDS = 150


@dataclass
class Check:
    name: str
    passed: bool
    figures: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.figures}"


def portal_engine(env_file: Path) -> Engine:
    url = make_url(read_environment_file(env_file)["DATABASE_URL"])
    return create_engine(url.set(drivername="postgresql+psycopg"))


def sandbox_successes(sandbox_db: Path, merchant_id: str) -> dict[str, tuple[str, int]]:
    """The provider's own record: ``{psp id: (reference, amount)}`` of succeeded payments. Read
    from its SQLite store, which answers even while the sandbox process is stopped."""
    with sqlite3.connect(f"file:{sandbox_db}?mode=ro", uri=True, timeout=30) as connection:
        rows = connection.execute(
            "SELECT id, reference, amount FROM payments"
            " WHERE status = 'succeeded' AND merchant_id = ?",
            (merchant_id,),
        ).fetchall()
    return {psp_id: (reference, amount) for psp_id, reference, amount in rows}


def settled_as_provider_says(engine: Engine, provider: dict[str, tuple[str, int]]) -> list[Check]:
    """Each provider success: settled in the portal, one settlement posting, one rendered
    receipt; and no payment settled in the portal that the provider did not take."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                """
                SELECT p.provider_payment_id, p.status, p.amount_minor,
                  (SELECT count(*) FROM journal_transaction t
                    WHERE t.idempotency = 'payment:' || p.id || '\\:settled') AS postings,
                  (SELECT count(*) FROM document d
                    WHERE d.kind = 'receipt' AND d.payment_id = p.id
                      AND d.refund_id IS NULL) AS receipts,
                  (SELECT count(*) FROM document d
                    WHERE d.kind = 'receipt' AND d.payment_id = p.id
                      AND d.refund_id IS NULL AND d.sha256 IS NOT NULL) AS rendered
                FROM payment p WHERE p.provider_payment_id IS NOT NULL
                """
            )
        ).all()
    portal = {row.provider_payment_id: row for row in rows}
    missing = [psp for psp in provider if psp not in portal]
    unsettled = [
        psp for psp in provider if psp in portal and portal[psp].status not in SETTLED_STATES
    ]
    wrong_amount = [
        psp for psp in provider if psp in portal and portal[psp].amount_minor != provider[psp][1]
    ]
    postings = [psp for psp in provider if psp in portal and portal[psp].postings != 1]
    receipts = [psp for psp in provider if psp in portal and portal[psp].receipts != 1]
    unrendered = [psp for psp in provider if psp in portal and portal[psp].rendered != 1]
    phantom = [
        psp for psp, row in portal.items() if row.status in SETTLED_STATES and psp not in provider
    ]

    def some(found: list[str]) -> str:
        return f"{len(found)}" + (f" (e.g. {', '.join(found[:3])})" if found else "")

    n = len(provider)
    known = n - len(missing)  # the two counts below are of these
    return [
        Check(
            "every provider success is settled in the portal",
            not missing and not unsettled and not wrong_amount,
            f"{n} succeeded at the sandbox; unknown to the portal {some(missing)}, "
            f"not settled {some(unsettled)}, other amount {some(wrong_amount)}",
        ),
        Check(
            "exactly one ledger settlement per provider success",
            not postings,
            f"{known - len(postings)}/{known} with one 'payment:<id>:settled';"
            f" other counts {some(postings)}",
        ),
        Check(
            "exactly one receipt per provider success, rendered",
            not receipts and not unrendered,
            f"{known - len(receipts)}/{known} with one receipt; not one {some(receipts)}, "
            f"not rendered {some(unrendered)}",
        ),
        Check(
            "no payment settled in the portal that the provider did not take",
            not phantom,
            f"{some(phantom)}",
        ),
    ]


def invariants(engine: Engine) -> list[Check]:
    with engine.connect() as connection:
        now = connection.scalar(text("SELECT now() AT TIME ZONE 'utc'"))
        open_late, open_now = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE expires_at < :late), count(*) FROM payment"
                " WHERE status IN ('created', 'started')"
            ),
            {"late": now - dt.timedelta(seconds=EXPIRY_GRACE_SECONDS)},
        ).one()
        transactions, unbalanced = connection.execute(
            text(
                """
                SELECT count(DISTINCT transaction_id),
                       count(*) FILTER (WHERE total <> 0)
                FROM (SELECT transaction_id, currency, sum(amount_minor) AS total
                      FROM journal_entry GROUP BY transaction_id, currency) per_currency
                """
            )
        ).one()
        series = connection.execute(
            text(
                """
                SELECT d.series, d.fiscal_year, count(*) AS n,
                       count(DISTINCT d.sequence) AS distinct_n,
                       min(d.sequence) AS first, max(d.sequence) AS last,
                       (SELECT c.last_number FROM document_counter c
                         WHERE c.series = d.series AND c.fiscal_year = d.fiscal_year) AS counter
                FROM document d GROUP BY d.series, d.fiscal_year ORDER BY 1, 2
                """
            )
        ).all()
        event_repeats = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM provider_event"
                " GROUP BY provider, event_id HAVING count(*) > 1) repeated"
            )
        )
        events = connection.scalar(text("SELECT count(*) FROM provider_event"))
        succeeded_twice = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM payment_transition"
                " WHERE to_status = 'succeeded' GROUP BY payment_id HAVING count(*) > 1) twice"
            )
        )
    gaps = [
        f"{row.series}/{row.fiscal_year}: {row.n} numbers, {row.first}..{row.last},"
        f" counter {row.counter}"
        for row in series
        if not (row.n == row.distinct_n == row.last == row.counter and row.first == 1)
    ]
    described = ", ".join(f"{row.series}/{row.fiscal_year} 1..{row.last}" for row in series)
    return [
        Check(
            "no payment open past its expiry",
            open_late == 0,
            f"{open_late} open more than {EXPIRY_GRACE_SECONDS} s past expiry"
            f" ({open_now} still open within their time)",
        ),
        Check(
            "every journal transaction balances per currency",
            unbalanced == 0,
            f"{transactions} transactions, {unbalanced} (transaction, currency) sums not 0",
        ),
        Check(
            "document numbers gap-free per series and year (1..n, counter at n)",
            not gaps,
            "; ".join(gaps) if gaps else described or "no documents",
        ),
        Check(
            "no provider event processed twice, no payment succeeded twice",
            event_repeats == 0 and succeeded_twice == 0,
            f"{events} events recorded, {event_repeats} repeated; "
            f"{succeeded_twice} payments with more than one transition to succeeded",
        ),
    ]


def run_checks(env_file: Path, sandbox_db: Path, wait: float, say=print) -> bool:
    """Print each check as PASS/FAIL with its figures; True if all pass. The provider checks
    are retried every 10 s for up to ``wait`` seconds (the periodic jobs settle late ones)."""
    engine = portal_engine(env_file)
    merchant = read_environment_file(env_file)["BILLING_SANDBOX_MERCHANT_ID"]
    deadline = time.monotonic() + wait
    try:
        while True:
            provider_checks = settled_as_provider_says(
                engine, sandbox_successes(sandbox_db, merchant)
            )
            if all(check.passed for check in provider_checks) or time.monotonic() >= deadline:
                break
            say(f"... {next(c for c in provider_checks if not c.passed)}; checking again in 10 s")
            time.sleep(10)
        checks = provider_checks + invariants(engine)
    finally:
        engine.dispose()
    for check in checks:
        say(str(check))
    return all(check.passed for check in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env", type=Path, default=RUN / "portal.env", help="prod-local's environment file"
    )
    parser.add_argument("--sandbox-db", type=Path, default=RUN / "var" / "sandbox.db")
    parser.add_argument(
        "--wait",
        type=float,
        default=150,
        help="seconds to let the periodic jobs settle late payments",
    )
    args = parser.parse_args(argv)
    return 0 if run_checks(args.env, args.sandbox_db, args.wait) else 1


if __name__ == "__main__":
    sys.exit(main())
