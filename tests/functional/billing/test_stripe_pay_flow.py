"""A citizen pays through Stripe Checkout, the portal's second provider, end to end: the
review page's choice of provider, the hosted page of the local Stripe stand-in over real HTTP,
its signed webhook, the ledger, the receipt, a refund and the day's reconciliation."""

import datetime as dt
import json
import logging
import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from portal.billing import reconcile, state, with_status
from portal.billing.models import JournalTransaction, Payment, ProviderEventRecord, Refund
from portal.billing.providers import payment_providers
from portal.billing.providers.stripe_checkout import StripeCheckoutProvider
from portal.billing.tasks import settle_or_expire
from portal.money import Money
from portal.receipts.models import Receipt
from tests import factories
from tests.stripe.standin import (
    DECLINED,
    SECRET_KEY,
    SUCCESS,
    WEBHOOK_SECRET,
    signature_header,
)

NOTIFICATIONS = "/billing/notifications/stripe"


def the_payment(dbsession) -> Payment:
    dbsession.expire_all()
    return dbsession.scalars(select(Payment)).one()


def count(dbsession, model, *where) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(model).where(*where))


def settlements(dbsession, payment) -> int:
    return count(
        dbsession,
        JournalTransaction,
        JournalTransaction.idempotency == f"payment:{payment.id}:settled",
    )


def webhooks_for(standin, reference, timeout=5.0):
    """The webhooks the stand-in sent about payment ``reference``, as delivered."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            d
            for d in list(standin.receiver.deliveries)
            if json.loads(d["body"])["data"]["object"].get("client_reference_id") == reference
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def deliver(app, body: bytes, signature: str, status=200):
    """Hand a webhook to the portal as Stripe posts it."""
    return app.post(
        NOTIFICATIONS,
        body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        status=status,
    )


def pay_with_stripe(payer, bills):
    """Pay ``bills`` choosing Stripe on the review page; returns the hosted page's URL."""
    review = payer.review(payer.pay(bills))
    form = review.forms["checkout-form"]
    assert [option for option in form["provider"].options] == [
        ("sandbox", True, None),
        ("stripe", False, None),
    ]
    form["provider"] = "stripe"
    return form.submit(status=303).location


@pytest.fixture(autouse=True)
def _fresh_stripe_account(stripe_standin):
    """The session's stand-in starts each test with no objects, as the portal's tables do,
    and leaves none behind for other tests' reconciliations."""
    stripe_standin.reset()
    stripe_standin.receiver.deliveries.clear()
    yield
    stripe_standin.reset()


@pytest.fixture
def paid(payer, ana_bills, dbsession, stripe_standin):
    """Ana pays both bills through Stripe; the webhook is not yet handed to the portal."""
    hosted = pay_with_stripe(payer, ana_bills)
    assert hosted.startswith(f"{stripe_standin.base_url}/c/pay/cs_test_")
    page = payer.browser.get(hosted)
    assert "Property tax 2026 Q1" in page.text and "120.00" in page.text
    back = payer.browser.post(hosted, data={"card_number": SUCCESS}, allow_redirects=False)
    assert back.status_code == 303
    payment = the_payment(dbsession)
    assert urlsplit(back.headers["Location"]).path == f"/payments/{payment.public_id}/return"
    (webhook,) = webhooks_for(stripe_standin, payment.public_id)
    return payment, webhook


def test_the_whole_pay_flow_through_stripe(paid, payer, ana_bills, dbsession, wsgi_app):
    payment, webhook = paid
    assert (payment.provider, payment.status) == ("stripe", state.STARTED)
    assert payment.provider_payment_id.startswith("cs_test_")

    answer = deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    assert answer.json == {"status": "processed"}
    payment = the_payment(dbsession)
    assert payment.status == state.SUCCEEDED
    assert [view.status for view in with_status(dbsession, ana_bills)] == ["paid", "paid"]
    assert settlements(dbsession, payment) == 1
    receipt = dbsession.scalars(select(Receipt)).one()
    assert receipt.payment_id == payment.id and receipt.pdf.startswith(b"%PDF")
    page = payer.app.get(f"/payments/{payment.public_id}")
    assert "Paid" in page.text and "€155.40" in page.text

    # a clerk's refund of the water bill goes to Stripe (the payment's provider, not the
    # default), keyed on the refund's reference
    refund_id = factories.refund_bill_paid(wsgi_app, payment.id, 35_40, "Charged twice")
    refund = dbsession.get(Refund, refund_id)
    dbsession.refresh(refund)
    assert refund.status == state.REFUND_SUCCEEDED
    assert refund.provider_refund_id.startswith("re_")
    assert the_payment(dbsession).status == state.PARTLY_REFUNDED
    stripe = payment_providers(wsgi_app.registry)["stripe"]
    report = stripe.query_payment(payment.public_id, payment.provider_payment_id)
    assert report.status == "succeeded"
    assert report.refunded == Money(35_40, "EUR")
    assert report.method == "Visa •••• 4242"

    result = reconcile(dbsession, stripe, dt.datetime.now(dt.UTC).date())
    assert result.clean, result.discrepancies
    assert result.matched == 2
    fee = round(155_40 * 0.015) + 25
    assert result.totals()["EUR"] == {
        "payments": Money(155_40, "EUR"),
        "refunds": Money(35_40, "EUR"),
        "fees": Money(fee, "EUR"),
        "net": Money(155_40 - 35_40 - fee, "EUR"),
    }
    # the sandbox's report knows nothing of it: each provider is reconciled on its own
    sandbox = payment_providers(wsgi_app.registry)["sandbox"]
    lines = reconcile(dbsession, sandbox, dt.datetime.now(dt.UTC).date()).lines
    assert payment.public_id not in {line.reference for line in lines}


def test_a_duplicated_webhook_is_applied_once(paid, payer, dbsession):
    payment, webhook = paid
    signature = webhook["headers"]["Stripe-Signature"]
    assert deliver(payer.app, webhook["body"], signature).json["status"] == "processed"
    assert deliver(payer.app, webhook["body"], signature).json["status"] == "duplicate"
    assert settlements(dbsession, payment) == 1
    assert count(dbsession, Receipt) == 1


def refused(payer, dbsession, payment, body, signature, caplog, status=400):
    """A webhook refused: a problem answer, a log line, nothing recorded or changed."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="portal.billing.notifications"):
        answer = deliver(payer.app, body, signature, status=status)
    assert answer.content_type == "application/problem+json"
    assert the_payment(dbsession).status == state.STARTED
    assert settlements(dbsession, payment) == 0
    assert count(dbsession, ProviderEventRecord) == 0
    (logged,) = [r for r in caplog.records if r.name == "portal.billing.notifications"]
    return logged.getMessage()


def test_forged_replayed_and_stale_webhooks_are_refused(paid, payer, dbsession, caplog):
    payment, webhook = paid
    body, signature = webhook["body"], webhook["headers"]["Stripe-Signature"]
    event = json.loads(body)
    event["data"]["object"]["amount_total"] = 1
    forged = json.dumps(event).encode()
    assert "no signatures found" in refused(payer, dbsession, payment, forged, signature, caplog)
    # signed with another secret
    other = signature_header(body, "whsec_someoneelse")
    assert "no signatures found" in refused(payer, dbsession, payment, body, other, caplog)
    # a genuine webhook captured an hour ago and replayed now: its timestamp is too old
    an_hour_ago = int(time.time()) - 3600
    stale = signature_header(body, timestamp=an_hour_ago)
    message = refused(payer, dbsession, payment, body, stale, caplog)
    assert "outside the tolerance zone" in message
    # the old signature with a fresh timestamp no longer matches
    replayed = f"t={int(time.time())},{stale.split(',', 1)[1]}"
    refused(payer, dbsession, payment, body, replayed, caplog)
    refused(payer, dbsession, payment, body, "junk", caplog)
    refused(payer, dbsession, payment, body, "", caplog)
    # the sandbox's endpoint does not take Stripe's signature either
    payer.app.post(
        "/billing/notifications/sandbox",
        body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        status=400,
    )
    assert deliver(payer.app, body, signature).json["status"] == "processed"


def test_a_webhook_for_an_unknown_session_is_refused(
    paid, payer, dbsession, stripe_standin, caplog
):
    payment, webhook = paid
    event = json.loads(webhook["body"])
    session = dict(event["data"]["object"], id="cs_test_unknown", client_reference_id="x" * 32)
    body = stripe_standin.event_about("checkout.session.completed", session)
    message = refused(payer, dbsession, payment, body, signature_header(body), caplog, status=404)
    assert "do not know" in message
    # our payment's reference on a session the portal did not open
    session["client_reference_id"] = payment.public_id
    body = stripe_standin.event_about("checkout.session.completed", session)
    message = refused(payer, dbsession, payment, body, signature_header(body), caplog, status=404)
    assert "another provider payment" in message


def test_a_webhook_about_a_payment_made_with_another_provider_is_refused(
    payer, ana_bills, dbsession, stripe_standin, caplog
):
    review = payer.review(payer.pay(ana_bills[:1]))
    review.forms["checkout-form"].submit(status=303)
    payment = the_payment(dbsession)
    assert payment.provider == "sandbox"
    # before the sandbox has answered with its own id, any other provider's event could pass
    payment.provider_payment_id = None
    dbsession.commit()
    session = {
        "id": "cs_test_elsewhere",
        "object": "checkout.session",
        "client_reference_id": payment.public_id,
        "amount_total": payment.amount_minor,
        "currency": payment.currency.lower(),
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": "pi_elsewhere",
    }
    body = stripe_standin.event_about("checkout.session.completed", session)
    message = refused(payer, dbsession, payment, body, signature_header(body), caplog, status=404)
    assert "do not know" in message  # the payment is looked up under the provider's name
    assert the_payment(dbsession).provider_payment_id is None


def test_events_of_no_concern_are_acknowledged_and_ignored(paid, payer, dbsession, stripe_standin):
    payment, _webhook = paid
    body = stripe_standin.event_about("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(payer.app, body, signature_header(body)).json == {"status": "ignored"}
    assert count(dbsession, ProviderEventRecord) == 0
    assert the_payment(dbsession).status == state.STARTED


def test_without_a_webhook_the_status_query_settles_the_payment(paid, dbsession, wsgi_app):
    payment, _webhook = paid
    settle_or_expire(wsgi_app.registry, payment.id)
    payment = the_payment(dbsession)
    assert payment.status == state.SUCCEEDED
    assert payment.method == "Visa •••• 4242"
    assert settlements(dbsession, payment) == 1


def test_a_declined_card_leaves_the_session_open(payer, ana_bills, dbsession, wsgi_app):
    hosted = pay_with_stripe(payer, ana_bills[:1])
    declined = payer.browser.post(hosted, data={"card_number": DECLINED}, allow_redirects=False)
    assert declined.status_code == 402 and "declined" in declined.text
    payment = the_payment(dbsession)
    settle_or_expire(wsgi_app.registry, payment.id)
    assert the_payment(dbsession).status == state.STARTED
    assert settlements(dbsession, payment) == 0


def test_the_default_provider_is_kept_unless_the_payer_chooses(
    payer, ana_bills, dbsession, sandbox
):
    review = payer.review(payer.pay(ana_bills[:1]))
    hosted = review.forms["checkout-form"].submit(status=303).location
    assert hosted.startswith(sandbox.base_url)
    assert the_payment(dbsession).provider == "sandbox"
    # once started, its page shows no choice any more
    review = payer.app.get(f"/payments/{the_payment(dbsession).public_id}/checkout")
    assert "provider" not in review.forms["checkout-form"].fields


def test_a_provider_not_offered_is_refused(payer, ana_bills, dbsession):
    review = payer.review(payer.pay(ana_bills[:1]))
    form = review.forms["checkout-form"]
    form["provider"].force_value("elsewhere")
    answer = form.submit(status=400)
    assert "Choose one of the ways to pay offered." in answer.text
    assert the_payment(dbsession).status == state.CREATED


def test_starting_and_refunding_again_are_idempotent_at_stripe(stripe_standin):
    """A retried call (a timeout after Stripe acted) makes no second session or refund."""
    stripe = StripeCheckoutProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=stripe_standin.base_url)
    amount = Money(12_50, "EUR")
    first = stripe.start_payment(
        "r" * 32, amount, "Parking", "https://p.test/r", "https://p.test/n"
    )
    again = stripe.start_payment(
        "r" * 32, amount, "Parking", "https://p.test/r", "https://p.test/n"
    )
    assert first == again
    paid = requests.post(first.hosted_url, data={"card_number": SUCCESS}, allow_redirects=False)
    assert paid.status_code == 303
    refunds = [stripe.refund(first.provider_payment_id, Money(2_50, "EUR"), "f" * 32) for _ in "12"]
    assert refunds[0] == refunds[1] and refunds[0].reference == "f" * 32
    report = stripe.query_payment("r" * 32, first.provider_payment_id)
    assert report.refunded == Money(2_50, "EUR")


def test_the_reconciliation_page_shows_each_provider(paid, payer, signed_in, dbsession):
    payment, webhook = paid
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    clerk = signed_in("admin-ada")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    page = clerk.get("/backoffice/reconciliation", params={"date": today, "provider": "stripe"})
    assert "1 lines matched" in page.html.find(id="verdict").text
    assert [a.text for a in page.html.find(id="providers").find_all("a")] == ["sandbox", "stripe"]
    default = clerk.get("/backoffice/reconciliation", params={"date": today})
    assert default.html.find(id="providers").find("a", attrs={"aria-current": "page"}).text == (
        "sandbox"
    )
    clerk.get("/backoffice/reconciliation", params={"provider": "elsewhere"}, status=404)


def test_the_script_reconciles_every_provider_or_the_one_named(paid, payer, wsgi_app, capsys):
    from pyramid.scripting import prepare

    from portal.scripts import reconcile as script

    payment, webhook = paid
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(script, "bootstrap", lambda uri: prepare(registry=wsgi_app.registry))
        patch.setattr(script, "setup_logging", lambda uri: None)
        assert script.main(["portal.ini", "--date", today, "--provider", "stripe"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("stripe: Reconciliation") and "1 matched" in out
        script.main(["portal.ini", "--date", today])
        out = capsys.readouterr().out
        assert out.index("sandbox: ") < out.index("stripe: ")
        with pytest.raises(SystemExit):
            script.main(["portal.ini", "--provider", "elsewhere"])


def test_an_expired_session_cancels_the_payment(payer, ana_bills, dbsession, stripe_standin):
    hosted = pay_with_stripe(payer, ana_bills[:1])
    payment = the_payment(dbsession)
    expired = requests.post(
        f"{stripe_standin.base_url}/v1/checkout/sessions/{payment.provider_payment_id}/expire",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=5,
    )
    assert expired.json()["status"] == "expired"
    assert payer.browser.get(hosted).status_code == 409
    (webhook,) = webhooks_for(stripe_standin, payment.public_id)
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    assert the_payment(dbsession).status == state.CANCELLED
    assert [view.status for view in with_status(dbsession, ana_bills)] == ["open", "open"]


def refund_webhooks(standin, kind: str, refund_id: str, timeout=5.0):
    """The webhooks of ``kind`` the stand-in sent about refund ``refund_id`` (its Refund; for
    ``charge.refunded``, the one Charge of the test)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for delivery in list(standin.receiver.deliveries):
            event = json.loads(delivery["body"])
            about = event["data"]["object"]["id"]
            if event["type"] == kind and (kind == "charge.refunded" or about == refund_id):
                found.append(delivery)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_the_session_closes_with_the_payment_and_speaks_the_payers_language(paid, stripe_standin):
    payment, _webhook = paid
    session = stripe_standin.objects[payment.provider_payment_id]
    assert session["locale"] == "en"  # the page was in English
    # the portal's payment expires 90 minutes after it was made: so does the session
    assert abs(session["expires_at"] - payment.expires_at.timestamp()) <= 1


def test_a_pending_refund_is_posted_when_its_webhook_says_it_succeeded(
    paid, payer, dbsession, wsgi_app, stripe_standin
):
    payment, webhook = paid
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    stripe_standin.pending_refunds = True
    refund_id = factories.refund_bill_paid(wsgi_app, payment.id, 35_40, "Charged twice")
    refund = dbsession.get(Refund, refund_id)
    dbsession.refresh(refund)
    assert refund.status == state.REFUND_REQUESTED  # Stripe has not given it back yet
    assert refund.provider_refund_id.startswith("re_")
    assert the_payment(dbsession).status == state.SUCCEEDED
    # the charge.refunded and refund.created webhooks say it is pending: nothing changes
    for kind in ("charge.refunded", "refund.created"):
        (told,) = refund_webhooks(stripe_standin, kind, refund.provider_refund_id)
        answer = deliver(payer.app, told["body"], told["headers"]["Stripe-Signature"])
        assert answer.json == {"status": "processed"}
    dbsession.refresh(refund)
    assert refund.status == state.REFUND_REQUESTED

    stripe_standin.settle_refund(refund.provider_refund_id, "succeeded")
    (updated,) = refund_webhooks(stripe_standin, "refund.updated", refund.provider_refund_id)
    answer = deliver(payer.app, updated["body"], updated["headers"]["Stripe-Signature"])
    assert answer.json == {"status": "processed"}
    dbsession.refresh(refund)
    assert refund.status == state.REFUND_SUCCEEDED
    assert the_payment(dbsession).status == state.PARTLY_REFUNDED
    posted = count(
        dbsession,
        JournalTransaction,
        JournalTransaction.idempotency == f"refund:{refund.id}:settled",
    )
    assert posted == 1
    # the same webhook again, and the charge's: posted once
    again = deliver(payer.app, updated["body"], updated["headers"]["Stripe-Signature"])
    assert again.json == {"status": "duplicate"}


def test_a_refund_the_webhook_says_failed_gives_its_money_back(
    paid, payer, dbsession, wsgi_app, stripe_standin
):
    payment, webhook = paid
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    stripe_standin.pending_refunds = True
    refund_id = factories.refund_bill_paid(wsgi_app, payment.id, 35_40, "Charged twice")
    refund = dbsession.get(Refund, refund_id)
    dbsession.refresh(refund)
    stripe_standin.settle_refund(refund.provider_refund_id, "failed")
    (failed,) = refund_webhooks(stripe_standin, "refund.failed", refund.provider_refund_id)
    deliver(payer.app, failed["body"], failed["headers"]["Stripe-Signature"])
    dbsession.refresh(refund)
    assert refund.status == state.REFUND_FAILED
    payment = the_payment(dbsession)
    assert payment.status == state.SUCCEEDED and payment.refundable == Money(155_40, "EUR")
    assert payment.needs_attention == f"refund {refund.public_id} failed at the provider"
    # the later refund.updated of the same refund changes nothing more
    (updated,) = refund_webhooks(stripe_standin, "refund.updated", refund.provider_refund_id)
    deliver(payer.app, updated["body"], updated["headers"]["Stripe-Signature"])
    assert the_payment(dbsession).refundable == Money(155_40, "EUR")


def test_a_refund_made_in_stripes_dashboard_is_left_to_reconciliation(
    paid, payer, dbsession, stripe_standin
):
    payment, webhook = paid
    deliver(payer.app, webhook["body"], webhook["headers"]["Stripe-Signature"])
    intent = stripe_standin.objects[payment.provider_payment_id]["payment_intent"]
    refund = stripe_standin.create_refund({"payment_intent": intent, "amount": "500"})
    (told,) = refund_webhooks(stripe_standin, "refund.created", refund["id"])
    answer = deliver(payer.app, told["body"], told["headers"]["Stripe-Signature"])
    assert answer.json == {"status": "processed"}
    assert the_payment(dbsession).status == state.SUCCEEDED
    assert count(dbsession, Refund) == 0
