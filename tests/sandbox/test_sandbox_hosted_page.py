"""The hosted payment page: each test card's outcome, 3-D Secure, cancelling, and what is kept."""

import pytest

from .conftest import (
    CHALLENGE,
    DECLINED,
    INSUFFICIENT_FUNDS,
    SILENT,
    SUCCESS,
    wait_until,
)


def test_page_shows_the_amount_the_form_and_the_test_cards(sandbox):
    payment = sandbox.new_payment(amount=123456, description="Building permit <script>fee")

    page = sandbox.browser.get(payment["hosted_url"])

    assert page.status_code == 200
    assert "1,234.56 EUR" in page.text
    assert "Building permit &lt;script&gt;fee" in page.text
    for label in ('for="card_number"', 'for="expiry"', 'for="cvc"', 'for="cardholder_name"'):
        assert label in page.text
    for number in (SUCCESS, DECLINED, INSUFFICIENT_FUNDS, CHALLENGE, SILENT):
        assert number in page.text
    assert "Cancel and return" in page.text
    assert "<script" not in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_unknown_payment_page_is_404(sandbox):
    response = sandbox.browser.get(f"{sandbox.base_url}/pay/psp_nope")

    assert response.status_code == 404
    assert "Payment not found" in response.text


@pytest.mark.parametrize(
    ("number", "status", "failure_reason"),
    [
        (SUCCESS, "succeeded", None),
        (DECLINED, "failed", "card_declined"),
        (INSUFFICIENT_FUNDS, "failed", "insufficient_funds"),
    ],
)
def test_card_outcome_redirects_back_and_is_notified(sandbox, number, status, failure_reason):
    payment = sandbox.new_payment()

    response = sandbox.pay(payment, number)

    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"http://portal.test/payments/return?lang=en&psp_id={payment['id']}"
    )
    current = sandbox.status(payment["id"])
    assert current["status"] == status
    assert current["failure_reason"] == failure_reason
    assert current["method"] == {"brand": "visa", "last4": number[-4:]}
    [event] = wait_until(sandbox.receiver.events)
    assert event["type"] == f"payment.{status}"
    assert event["event_id"].startswith("evt_")
    assert event["data"] == current


def test_unlisted_card_number_is_refused_on_the_page(sandbox):
    payment = sandbox.new_payment()

    response = sandbox.pay(payment, "5555 5555 5555 4444", expiry="13/30", cvc="12")

    assert response.status_code == 422
    assert "only the test card numbers" in response.text
    assert "expiry month" in response.text
    assert "security code" in response.text
    assert "5555" not in response.text
    assert sandbox.status(payment["id"])["status"] == "pending"


def test_expired_card_is_refused(sandbox):
    payment = sandbox.new_payment()

    response = sandbox.pay(payment, SUCCESS, expiry="01/20")

    assert response.status_code == 422
    assert "expired" in response.text


@pytest.mark.parametrize(
    ("code", "status", "failure_reason"),
    [("123456", "succeeded", None), ("000000", "failed", "authentication_failed")],
)
def test_three_d_secure_challenge(sandbox, code, status, failure_reason):
    payment = sandbox.new_payment()

    challenge = sandbox.pay(payment, CHALLENGE)
    pending = sandbox.status(payment["id"])
    shown_again = sandbox.browser.get(payment["hosted_url"])
    answered = sandbox.answer_challenge(payment, code)

    assert challenge.status_code == 200
    assert 'name="code"' in challenge.text
    assert pending["status"] == "pending"
    assert 'name="code"' in shown_again.text
    assert answered.status_code == 303
    assert answered.headers["Location"].endswith(f"psp_id={payment['id']}")
    current = sandbox.status(payment["id"])
    assert (current["status"], current["failure_reason"]) == (status, failure_reason)
    [event] = wait_until(sandbox.receiver.events)
    assert event["type"] == f"payment.{status}"


def test_challenge_answer_without_a_challenge_is_refused(sandbox):
    payment = sandbox.new_payment()

    response = sandbox.answer_challenge(payment, "123456")

    assert response.status_code == 409
    assert sandbox.status(payment["id"])["status"] == "pending"


def test_cancel_returns_to_the_merchant(sandbox):
    payment = sandbox.new_payment()

    response = sandbox.browser.post(
        payment["hosted_url"], data={"action": "cancel"}, allow_redirects=False
    )

    assert response.status_code == 303
    assert sandbox.status(payment["id"])["status"] == "cancelled"
    [event] = wait_until(sandbox.receiver.events)
    assert event["type"] == "payment.cancelled"


def test_finished_payment_cannot_be_paid_again(sandbox):
    payment = sandbox.paid_payment()

    page = sandbox.browser.get(payment["hosted_url"])
    again = sandbox.pay(payment, SUCCESS)
    cancel = sandbox.browser.post(payment["hosted_url"], data={"action": "cancel"})

    assert "already succeeded" in page.text
    assert 'name="card_number"' not in page.text
    assert again.status_code == 409
    assert cancel.status_code == 409
    assert sandbox.status(payment["id"])["status"] == "succeeded"
    wait_until(sandbox.receiver.events)
    assert len(sandbox.receiver.events()) == 1


def test_silent_card_succeeds_without_any_notification(sandbox):
    silent = sandbox.new_payment(reference="silent")
    loud = sandbox.new_payment(reference="loud")

    assert sandbox.pay(silent, SILENT).status_code == 303
    assert sandbox.pay(loud, SUCCESS).status_code == 303
    assert sandbox.refund(silent["id"], 100, "silent-refund").status_code == 201

    [event] = wait_until(sandbox.receiver.events)
    assert event["data"]["id"] == loud["id"]
    assert sandbox.status(silent["id"])["status"] == "succeeded"
    with sandbox.app.registry.store.transaction() as records:
        assert len(records.events()) == 1


def read_if_there(path) -> bytes:
    """SQLite's -wal and -shm files come and go with its connections."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_card_number_is_never_stored(sandbox, tmp_path):
    payment = sandbox.paid_payment()
    sandbox.pay(sandbox.new_payment(reference="declined"), DECLINED)

    stored = b"".join(read_if_there(path) for path in tmp_path.glob("sandbox.db*"))

    assert payment["id"].encode() in stored
    assert b"4242424242424242" not in stored
    assert b"4000000000000002" not in stored
