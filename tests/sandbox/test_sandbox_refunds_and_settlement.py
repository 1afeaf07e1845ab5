"""Refunds (partial, bounded, idempotent) and the daily settlement report."""

import csv
import io
from datetime import UTC, datetime

from .conftest import DECLINED, wait_until


def test_partial_refunds_are_recorded_and_notified(sandbox):
    payment = sandbox.paid_payment()

    response = sandbox.refund(payment["id"], 250, "refund-1")

    assert response.status_code == 201
    refund = response.json()
    assert refund["id"].startswith("re_")
    assert (refund["amount"], refund["currency"], refund["status"]) == (250, "EUR", "succeeded")
    assert refund["payment_id"] == payment["id"]
    assert sandbox.status(payment["id"])["refunded_amount"] == 250
    events = wait_until(lambda: len(sandbox.receiver.events()) == 2 and sandbox.receiver.events())
    refunded = next(e for e in events if e["type"] == "refund.succeeded")
    assert refunded["data"]["refund"] == refund
    assert refunded["data"]["refunded_amount"] == 250


def test_refund_reference_replays_the_same_refund(sandbox):
    payment = sandbox.paid_payment()
    first = sandbox.refund(payment["id"], 1250, "refund-1").json()

    replay = sandbox.refund(payment["id"], 1250, "refund-1")
    changed = sandbox.refund(payment["id"], 100, "refund-1")

    assert replay.status_code == 200
    assert replay.json() == first
    assert changed.status_code == 409
    assert changed.json()["code"] == "reference_conflict"
    assert sandbox.status(payment["id"])["refunded_amount"] == 1250


def test_refunding_more_than_captured_is_refused(sandbox):
    payment = sandbox.paid_payment()
    sandbox.refund(payment["id"], 1000, "refund-1")

    response = sandbox.refund(payment["id"], 251, "refund-2")

    assert response.status_code == 422
    assert response.json()["code"] == "refund_exceeds_remaining"
    assert sandbox.refund(payment["id"], 250, "refund-3").status_code == 201
    assert sandbox.status(payment["id"])["refunded_amount"] == 1250


def test_unpaid_payment_cannot_be_refunded(sandbox):
    pending = sandbox.new_payment(reference="pending")
    failed = sandbox.new_payment(reference="failed")
    sandbox.pay(failed, DECLINED)

    for payment in (pending, failed):
        response = sandbox.refund(payment["id"], 100, "refund-1")
        assert response.status_code == 409
        assert response.json()["code"] == "payment_not_refundable"


def test_refund_amount_and_reference_are_checked(sandbox):
    payment = sandbox.paid_payment()

    response = sandbox.refund(payment["id"], 0, "")

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"amount", "reference"}


def _settlement(sandbox, day):
    response = sandbox.api.get(f"{sandbox.base_url}/v1/settlements/{day}.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_settlement_report_lists_the_days_payments_and_refunds(sandbox):
    paid = sandbox.paid_payment(reference="paid", amount=10000)
    sandbox.pay(sandbox.new_payment(reference="declined"), DECLINED)
    sandbox.new_payment(reference="pending")
    refund = sandbox.refund(paid["id"], 2500, "refund-1").json()
    today = datetime.now(UTC).date().isoformat()

    rows = _settlement(sandbox, today)

    assert [(r["type"], r["psp_id"], r["payment_id"], r["reference"]) for r in rows] == [
        ("payment", paid["id"], paid["id"], "paid"),
        ("refund", refund["id"], paid["id"], "refund-1"),
    ]
    payment_row, refund_row = rows
    assert (payment_row["amount"], payment_row["fee"], payment_row["net"]) == (
        "10000",
        "160",
        "9840",
    )
    assert (refund_row["amount"], refund_row["fee"], refund_row["net"]) == ("-2500", "0", "-2500")
    assert {r["currency"] for r in rows} == {"EUR"}
    assert payment_row["settled_at"].startswith(today)
    assert _settlement(sandbox, "2001-01-01") == []
