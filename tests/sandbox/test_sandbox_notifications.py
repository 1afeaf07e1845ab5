"""Notifications: signed, retried until accepted, durable, sometimes duplicated or reordered."""

import hashlib
import hmac
import json

from portal.sandbox.store import Records

from .conftest import SECRET, wait_until


def _verify(secret, header, body):
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]), int(fields["t"])


def test_signature_is_hmac_sha256_of_timestamp_and_body(sandbox):
    sandbox.paid_payment()

    [delivery] = wait_until(lambda: sandbox.receiver.deliveries)
    header = delivery["headers"]["Sandbox-Signature"]

    valid, timestamp = _verify(SECRET, header, delivery["body"])
    assert valid
    assert abs(timestamp - json.loads(delivery["body"])["created"]) <= 5
    assert not _verify("another-secret", header, delivery["body"])[0]
    assert not _verify(SECRET, header, delivery["body"].replace(b"1250", b"1251"))[0]


def test_delivery_is_retried_with_backoff_until_accepted(sandbox, monkeypatch):
    scheduled = []  # each failed attempt's wait before the next, as the notifier sets it
    record_failure = Records.record_failure

    def recorded(self, seq, error, retry_at, now):
        scheduled.append(None if retry_at is None else round(retry_at - now, 6))
        record_failure(self, seq, error, retry_at, now)

    monkeypatch.setattr(Records, "record_failure", recorded)
    sandbox.receiver.failures_left = 3
    sandbox.paid_payment()

    wait_until(sandbox.receiver.events)

    deliveries = sandbox.receiver.deliveries
    assert [d["answered"] for d in deliveries] == [500, 500, 500, 204]
    assert len({json.loads(d["body"])["event_id"] for d in deliveries}) == 1
    gaps = [
        later["at"] - earlier["at"]
        for earlier, later in zip(deliveries, deliveries[1:], strict=False)
    ]
    # The delay doubles from the fixture's 0.05 s (its cap, 0.4 s, is not reached) ...
    assert scheduled == [0.05, 0.1, 0.2]
    # ... and each retry waited at least that long. Only lower bounds: a busy machine
    # stretches every gap, so comparing the gaps with each other is noise.
    slack = 0.005  # the receiver's monotonic clock against the notifier's wall clock
    for delay, gap in zip(scheduled, gaps, strict=True):
        assert gap >= delay - slack, (scheduled, gaps)


def test_delivery_gives_up_after_max_attempts(start_sandbox):
    sandbox = start_sandbox(max_attempts=3, retry_base_delay=0.01)
    sandbox.receiver.failures_left = 100
    sandbox.paid_payment()

    def abandoned():
        with sandbox.app.registry.store.transaction() as records:
            return [e for e in records.events() if e["abandoned_at"]]

    [event] = wait_until(abandoned)
    assert event["attempts"] == 3
    assert len(sandbox.receiver.deliveries) == 3


def test_duplicate_rate_one_delivers_every_event_twice(start_sandbox):
    sandbox = start_sandbox(duplicate_rate=1)
    sandbox.paid_payment()

    first, second = wait_until(
        lambda: len(sandbox.receiver.events()) == 2 and sandbox.receiver.events()
    )

    assert first["event_id"] == second["event_id"]
    assert first == second


def test_reordering_lets_later_events_overtake_earlier_ones(start_sandbox):
    sandbox = start_sandbox(reorder_rate=0.5, reorder_delay=0.5, seed=7)
    payment = sandbox.paid_payment()
    refunds = [f"refund-{n}" for n in range(8)]
    for reference in refunds:
        assert sandbox.refund(payment["id"], 10, reference).status_code == 201

    events = wait_until(lambda: len(sandbox.receiver.events()) == 9 and sandbox.receiver.events())

    arrived = [e["data"].get("refund", {}).get("reference", "payment") for e in events]
    assert sorted(arrived) == sorted(["payment", *refunds])
    assert arrived != ["payment", *refunds]


def test_undelivered_events_survive_a_restart(start_sandbox):
    first = start_sandbox(reorder_rate=1, reorder_delay=0.5)
    payment = first.paid_payment()
    first.close()
    assert first.receiver.deliveries == []

    start_sandbox()

    [event] = wait_until(first.receiver.events)
    assert event["data"]["id"] == payment["id"]
