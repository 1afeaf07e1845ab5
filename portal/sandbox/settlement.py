"""The daily settlement report: what was paid out for one UTC day, for the portal to reconcile.

Amounts are signed minor units (refunds negative); `fee` is what the provider kept (1.4% + 20 minor
units per payment, rounded half up, nothing on refunds) and `net = amount - fee`, so the column sum
of `net` is the day's payout.
"""

import csv
import io
from datetime import UTC, date, datetime, timedelta

from .store import Store

COLUMNS = (
    "type",
    "psp_id",
    "payment_id",
    "reference",
    "amount",
    "currency",
    "fee",
    "net",
    "settled_at",
)


def payment_fee(amount: int) -> int:
    return (amount * 14 + 500) // 1000 + 20


def settlement_csv(store: Store, day: date) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    span = (start.timestamp(), (start + timedelta(days=1)).timestamp())
    with store.transaction() as records:
        payments = records.settled_payments(*span)
        refunds = records.settled_refunds(*span)
    rows = [
        (
            "payment",
            p["id"],
            p["id"],
            p["reference"],
            p["amount"],
            p["currency"],
            payment_fee(p["amount"]),
            p["finished_at"],
        )
        for p in payments
    ] + [
        (
            "refund",
            r["id"],
            r["payment_id"],
            r["reference"],
            -r["amount"],
            r["currency"],
            0,
            r["created_at"],
        )
        for r in refunds
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for kind, psp_id, payment_id, reference, amount, currency, fee, settled in sorted(
        rows, key=lambda row: row[-1]
    ):
        settled_at = datetime.fromtimestamp(settled, UTC).isoformat(timespec="seconds")
        writer.writerow(
            (kind, psp_id, payment_id, reference, amount, currency, fee, amount - fee, settled_at)
        )
    return out.getvalue()
