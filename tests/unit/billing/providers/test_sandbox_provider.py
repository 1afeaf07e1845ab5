"""The sandbox provider client against the real sandbox PSP over HTTP: payments, notifications,
refunds, settlement, and how failures are told apart."""

import datetime
import hashlib
import hmac
import json
import socket
import time

import pytest

from portal.billing.providers import InvalidNotification, ProviderRefused, ProviderUnavailable
from portal.billing.providers import sandbox as sandbox_module
from portal.money import Money

SUCCESS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
EUR_12_50 = Money(1250, "EUR")


def start(provider, receiver, reference="pay-1", amount=EUR_12_50):
    return provider.start_payment(
        reference, amount, "Parking permit", "http://portal.test/payments/return", receiver.url
    )


def wait_for(receiver, count=1, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(receiver.deliveries) < count:
        if time.monotonic() > deadline:
            pytest.fail("no notification arrived")
        time.sleep(0.01)
    return receiver.deliveries[count - 1]


def signed_at(headers) -> datetime.datetime:
    timestamp = headers["Sandbox-Signature"].split(",")[0].removeprefix("t=")
    return datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC)


def test_starting_the_same_reference_twice_gives_the_same_payment(provider, receiver):
    first = start(provider, receiver)
    again = start(provider, receiver)
    other = start(provider, receiver, reference="pay-2")

    assert again == first
    assert other.provider_payment_id != first.provider_payment_id
    assert first.hosted_url.startswith(provider.origin + "/")


def test_reusing_a_reference_for_another_amount_is_refused(provider, receiver):
    start(provider, receiver)

    with pytest.raises(ProviderRefused) as refused:
        start(provider, receiver, amount=Money(1251, "EUR"))

    assert refused.value.code == "reference_conflict"


def test_paid_payment_is_queried_as_succeeded_with_a_masked_method(provider, receiver, pay):
    started = start(provider, receiver)
    assert provider.query_payment("pay-1").status == "pending"

    pay(started.hosted_url, SUCCESS)

    payment = provider.query_payment("pay-1")
    assert payment.provider_payment_id == started.provider_payment_id
    assert payment.reference == "pay-1"
    assert payment.status == "succeeded"
    assert payment.amount == EUR_12_50
    assert payment.refunded == Money(0, "EUR")
    assert payment.method == "Visa •••• 4242"
    assert payment.failure_reason is None


def test_declined_payment_is_queried_as_failed_with_the_reason(provider, receiver, pay):
    started = start(provider, receiver)

    pay(started.hosted_url, DECLINED)

    payment = provider.query_payment("pay-1")
    assert (payment.status, payment.failure_reason) == ("failed", "card_declined")
    assert payment.method == "Visa •••• 0002"


def test_query_of_an_unknown_reference_is_none(provider):
    assert provider.query_payment("never-sent") is None


def test_a_wrong_api_key_is_refused_not_retried(sandbox_url, make_provider):
    provider = make_provider(sandbox_url, api_key="wrong-key")

    with pytest.raises(ProviderRefused) as refused:
        provider.query_payment("pay-1")

    assert refused.value.code == "unauthorized"


@pytest.fixture
def notification(provider, receiver, pay):
    """A genuine notification as the sandbox delivered it: (headers, body)."""
    pay(start(provider, receiver).hosted_url, SUCCESS)
    return wait_for(receiver)


def test_genuine_notification_is_accepted_within_the_tolerance(provider, notification):
    headers, body = notification
    sent = signed_at(headers)

    for now in (
        sent,
        sent + datetime.timedelta(seconds=299),
        sent - datetime.timedelta(seconds=299),
    ):
        event = provider.parse_notification(headers, body, now)
        assert event.event_id == json.loads(body)["event_id"]
        assert event.type == "payment.succeeded"
        assert event.created.tzinfo == datetime.UTC
        assert abs(event.created - sent) <= datetime.timedelta(seconds=5)
        assert event.payment == provider.query_payment("pay-1")
        assert event.refund is None


def test_header_lookup_ignores_case_and_tolerates_spaces_and_several_signatures(
    provider, notification
):
    headers, body = notification
    t, v1 = headers["Sandbox-Signature"].split(",")
    header = f" {t} , v1={'0' * 64},  {v1} "

    event = provider.parse_notification({"sandbox-signature": header}, body, signed_at(headers))

    assert event.type == "payment.succeeded"


def test_modified_body_is_rejected(provider, notification):
    headers, body = notification
    forged = body.replace(b"1250", b"1")
    assert forged != body

    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers, forged, signed_at(headers))


def test_notification_signed_with_another_secret_is_rejected(
    sandbox_url, make_provider, notification
):
    headers, body = notification
    provider = make_provider(sandbox_url, signing_secret="another-secret")

    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers, body, signed_at(headers))


@pytest.mark.parametrize("clock_offset", [301, -301], ids=["stale", "from-the-future"])
def test_notification_outside_the_time_window_is_rejected(provider, notification, clock_offset):
    headers, body = notification
    now = signed_at(headers) + datetime.timedelta(seconds=clock_offset)

    with pytest.raises(InvalidNotification, match="tolerance"):
        provider.parse_notification(headers, body, now)


@pytest.mark.parametrize(
    "garble",
    [
        lambda t, v1: None,
        lambda t, v1: "",
        lambda t, v1: "garbage",
        lambda t, v1: v1,
        lambda t, v1: t,
        lambda t, v1: f"t=abc,{v1}",
        lambda t, v1: f"{t},{t},{v1}",
        lambda t, v1: f"{t},{v1[:-1]}",
        lambda t, v1: f"{t},v1=é{v1[4:]}",
    ],
    ids=[
        "missing",
        "empty",
        "garbage",
        "no-t",
        "no-v1",
        "t-not-a-number",
        "two-t",
        "short",
        "utf8",
    ],
)
def test_missing_or_garbled_signature_header_is_rejected(provider, notification, garble):
    headers, body = notification
    header = garble(*headers["Sandbox-Signature"].split(","))
    sent_headers = {} if header is None else {"Sandbox-Signature": header}

    with pytest.raises(InvalidNotification):
        provider.parse_notification(sent_headers, body, signed_at(headers))


def test_correctly_signed_but_unreadable_body_is_rejected(provider):
    now = datetime.datetime.now(datetime.UTC)
    t = str(int(now.timestamp()))
    malformed = (
        b'{"event_id": "e", "type": "payment.succeeded", "created": 1, "data": []}',
        b'{"event_id": "e", "type": "payment.succeeded", "created": 1e20, "data": {}}',
    )
    for body in (b"not json", b"[]", b'{"event_id": "evt_1"}', *malformed):
        signature = hmac.new(b"test-signing-secret", f"{t}.".encode() + body, hashlib.sha256)
        headers = {"Sandbox-Signature": f"t={t},v1={signature.hexdigest()}"}

        with pytest.raises(InvalidNotification, match="unreadable"):
            provider.parse_notification(headers, body, now)


def test_partial_refund_is_idempotent_and_notified(provider, receiver, pay):
    started = start(provider, receiver)
    pay(started.hosted_url, SUCCESS)

    refund = provider.refund(started.provider_payment_id, Money(250, "EUR"), "refund-1")
    replay = provider.refund(started.provider_payment_id, Money(250, "EUR"), "refund-1")

    assert replay == refund
    assert refund.provider_payment_id == started.provider_payment_id
    assert (refund.reference, refund.amount, refund.status) == (
        "refund-1",
        Money(250, "EUR"),
        "succeeded",
    )
    assert provider.query_payment("pay-1").refunded == Money(250, "EUR")
    headers, body = wait_for(receiver, count=2)
    event = provider.parse_notification(headers, body, signed_at(headers))
    assert event.type == "refund.succeeded"
    assert event.refund == refund
    assert event.payment.refunded == Money(250, "EUR")


def test_refunding_more_than_remains_is_refused(provider, receiver, pay):
    started = start(provider, receiver)
    pay(started.hosted_url, SUCCESS)
    provider.refund(started.provider_payment_id, Money(1000, "EUR"), "refund-1")

    with pytest.raises(ProviderRefused) as refused:
        provider.refund(started.provider_payment_id, Money(251, "EUR"), "refund-2")

    assert refused.value.code == "refund_exceeds_remaining"
    assert refused.value.detail


def test_unpaid_payment_cannot_be_refunded(provider, receiver):
    started = start(provider, receiver)

    with pytest.raises(ProviderRefused) as refused:
        provider.refund(started.provider_payment_id, Money(100, "EUR"), "refund-1")

    assert refused.value.code == "payment_not_refundable"


def test_settlement_report_lists_the_days_payments_and_refunds(provider, receiver, pay):
    started = start(provider, receiver)
    pay(started.hosted_url, SUCCESS)
    provider.refund(started.provider_payment_id, Money(250, "EUR"), "refund-1")
    start(provider, receiver, reference="unpaid")
    today = datetime.datetime.now(datetime.UTC).date()

    paid, refunded = provider.settlement_report(today)

    assert paid.kind == "payment"
    assert paid.provider_payment_id == started.provider_payment_id
    assert paid.reference == "pay-1"
    assert (paid.amount, paid.fee) == (EUR_12_50, Money(38, "EUR"))
    assert paid.provider_refund_id is None
    assert paid.settled_at.tzinfo == datetime.UTC
    assert paid.settled_at.date() == today
    assert refunded.kind == "refund"
    assert refunded.provider_payment_id == started.provider_payment_id
    assert refunded.reference == "refund-1"
    assert refunded.provider_refund_id.startswith("re_")
    assert (refunded.amount, refunded.fee) == (Money(-250, "EUR"), Money(0, "EUR"))
    assert provider.settlement_report(today - datetime.timedelta(days=1)) == []


def test_a_provider_that_is_down_is_unavailable(make_provider):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    provider = make_provider(f"http://127.0.0.1:{port}")

    with pytest.raises(ProviderUnavailable):
        provider.query_payment("pay-1")
    with pytest.raises(ProviderUnavailable):
        provider.start_payment("pay-1", EUR_12_50, "x", "http://a.test/", "http://a.test/")


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_unavailable_not_refusals(make_provider, fake_psp, status):
    provider = make_provider(fake_psp(status))

    with pytest.raises(ProviderUnavailable):
        provider.refund("psp_1", EUR_12_50, "refund-1")


def test_a_provider_that_does_not_answer_in_time_is_unavailable(
    make_provider, fake_psp, monkeypatch
):
    monkeypatch.setattr(sandbox_module, "TIMEOUT", (3, 0.2))
    provider = make_provider(fake_psp(409, delay=1))

    with pytest.raises(ProviderUnavailable):
        provider.query_payment("pay-1")


def test_a_success_answer_that_makes_no_sense_is_unavailable(make_provider, fake_psp):
    payment = {
        "id": "psp_1",
        "reference": "pay-1",
        "amount": 1250,
        "currency": "EUR",
        "refunded_amount": 0,
        "method": None,
        "failure_reason": None,
    }

    for body in ({"unexpected": True}, {**payment, "status": "authorised"}):
        provider = make_provider(fake_psp(200, body=body))
        with pytest.raises(ProviderUnavailable):
            provider.query_payment("pay-1")
