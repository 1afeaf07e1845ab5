"""Exactly-once under real concurrency: the portal served by waitress over real HTTP, hit by
several threads at once (a barrier makes the requests overlap), on PostgreSQL's row locks.

Double clicks, two tabs, repeated notifications, a provider that charged twice and two clerks
refunding at once must each leave one payment, one ledger posting, and never more refunded
than was paid.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
import transaction
import waitress
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from waitress import wasyncore

from portal.billing import PAID, state, with_status
from portal.billing.ledger import LedgerError
from portal.billing.models import (
    Bill,
    JournalEntry,
    JournalTransaction,
    Payment,
    PaymentTransition,
    ProviderEventRecord,
    Refund,
)
from portal.billing.payments import record_refund
from portal.db import get_tm_session
from portal.identity.models import User
from portal.money import Money
from portal.refusals import Refusal
from portal.sandbox.notifier import signature_header
from portal.web import status_of
from tests import factories
from tests.sandbox.conftest import SECRET, SUCCESS, wait_until

TIMEOUT = 30


@pytest.fixture(scope="module")
def portal_url(wsgi_app):
    """The real portal WSGI app behind waitress on a free localhost port."""
    server = waitress.create_server(wsgi_app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(5)
    server.task_dispatcher.shutdown()


class Tab:
    """A signed-in browser tab speaking real HTTP to the served portal."""

    def __init__(self, portal_url, cookie, csrf_token):
        self.url = portal_url
        self.cookie = cookie
        self.csrf_token = csrf_token

    def pay(self, bill, key):
        return requests.post(
            f"{self.url}/bills/pay",
            data={"csrf_token": self.csrf_token, "only": bill.public_id, "idempotency_key": key},
            # as a browser on the portal's page sends it (checked for HTTPS by Pyramid's CSRF)
            headers={"Cookie": f"portal_session={self.cookie}", "Origin": "https://localhost"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def get(self, location):
        return requests.get(
            self.url + urlsplit(location).path,
            headers={"Cookie": f"portal_session={self.cookie}"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def checkout(self, location):
        """Press "Pay" on the review page at ``location`` (/payments/<id>/checkout)."""
        return requests.post(
            self.url + urlsplit(location).path,
            data={"csrf_token": self.csrf_token},
            headers={"Cookie": f"portal_session={self.cookie}", "Origin": "https://localhost"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def pay_and_charge(self, bill, key, card=SUCCESS):
        """The whole tab: pay, review, go on to the hosted page, enter a card there."""
        answer = self.pay(bill, key)
        if answer.status_code != 303:
            return answer.status_code
        assert self.get(answer.headers["Location"]).status_code == 200
        hosted = self.checkout(answer.headers["Location"])
        assert hosted.status_code == 303, hosted.text
        charged = enter_card(hosted.headers["Location"], card)
        assert charged.status_code == 303, charged.text
        return answer.status_code


def enter_card(hosted_url, number=SUCCESS):
    form = {"card_number": number, "expiry": "12/39", "cvc": "123", "cardholder_name": "Ana"}
    return requests.post(hosted_url, data=form, allow_redirects=False, timeout=TIMEOUT)


@pytest.fixture
def tab(signed_in, portal_url):
    """Ana signed in through WebTest; her session cookie and CSRF token go into real requests."""
    app = signed_in("citizen-ana")
    page = app.get("/bills")
    csrf_token = page.html.find("input", {"name": "csrf_token"})["value"]
    return Tab(portal_url, app.cookies["portal_session"], csrf_token)


@pytest.fixture
def ana(tab, dbsession):
    return dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))


def at_once(calls):
    """Run ``calls`` (no-argument functions) in as many threads, released together."""
    barrier = threading.Barrier(len(calls))

    def released(call):
        barrier.wait(timeout=TIMEOUT)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def new_key():
    return uuid.uuid4().hex


def payments_of(dbsession, bill):
    dbsession.expire_all()
    return list(
        dbsession.scalars(
            select(Payment).where(Payment.allocations.any(bill_id=bill.id)).order_by(Payment.id)
        )
    )


def bill_status(dbsession, bill):
    dbsession.expire_all()
    return with_status(dbsession, [dbsession.get(Bill, bill.id)])[0].status


def notification_of(sandbox, payment, type_="payment.succeeded"):
    """The signed notification the sandbox sent about ``payment`` (captured, not yet handed on)."""

    def found():
        for delivery in list(sandbox.receiver.deliveries):
            body = json.loads(delivery["body"])
            if body["type"] == type_ and body["data"]["reference"] == payment.public_id:
                return delivery
        return None

    return wait_until(found)


def notify(portal_url, body, signature):
    return requests.post(
        f"{portal_url}/billing/notifications/sandbox",
        data=body,
        headers={"Sandbox-Signature": signature, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )


def deliver(portal_url, delivery):
    return notify(portal_url, delivery["body"], delivery["headers"]["Sandbox-Signature"])


def stale_failure(delivery):
    """A ``payment.failed`` event about the same payment, signed like the provider signs."""
    body = json.loads(delivery["body"])
    body["event_id"] = "evt_" + uuid.uuid4().hex[:24]
    body["type"] = "payment.failed"
    body["data"] = {**body["data"], "status": "failed", "failure_reason": "card_declined"}
    raw = json.dumps(body).encode()
    return raw, signature_header(SECRET, raw, int(time.time()))


def charged_at_provider(tab, bill, dbsession):
    """Pay ``bill`` on the hosted page; the provider took the money, the portal does not know."""
    answer = tab.pay(bill, new_key())
    assert answer.status_code == 303, answer.text
    hosted = tab.checkout(answer.headers["Location"])
    assert hosted.status_code == 303, hosted.text
    assert enter_card(hosted.headers["Location"]).status_code == 303
    dbsession.expire_all()
    return payments_of(dbsession, bill)[-1]


def settled_transactions(dbsession, payment):
    return dbsession.scalar(
        select(func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.idempotency == f"payment:{payment.id}:settled")
    )


def provider_view(sandbox, payment):
    return sandbox.api.get(
        f"{sandbox.base_url}/v1/payments", params={"reference": payment.public_id}, timeout=TIMEOUT
    )


@pytest.mark.postgresql
def test_two_tabs_paying_one_bill_at_once_make_one_payment_and_one_charge(
    tab, ana, dbsession, sandbox
):
    for _round in range(10):
        bill = factories.bill(dbsession, ana, amount=40_00)
        dbsession.commit()

        answers = at_once(
            [lambda bill=bill: tab.pay_and_charge(bill, new_key()) for _tab in (1, 2)]
        )

        assert sorted(answers) == [303, 409]
        payments = payments_of(dbsession, bill)
        assert len(payments) == 1
        charges = [provider_view(sandbox, payment).json() for payment in payments]
        assert [charge["status"] for charge in charges] == ["succeeded"]


@pytest.mark.postgresql
def test_double_click_with_one_idempotency_key_makes_one_payment(tab, ana, dbsession):
    bill = factories.bill(dbsession, ana, amount=25_00)
    dbsession.commit()
    key = new_key()

    answers = at_once([lambda: tab.pay(bill, key) for _click in range(8)])

    assert [answer.status_code for answer in answers] == [303] * 8, [
        answer.status_code for answer in answers
    ]
    payments = payments_of(dbsession, bill)
    assert len(payments) == 1
    assert {urlsplit(answer.headers["Location"]).path for answer in answers} == {
        f"/payments/{payments[0].public_id}/checkout"
    }


@pytest.mark.postgresql
def test_one_idempotency_key_sent_at_once_for_other_bills_makes_one_payment(tab, ana, dbsession):
    """A client that sends one Idempotency-Key with two different bills at once: the bills'
    locks do not order the two requests, the key's unique index does. One payment is made; the
    other request waits for it, finds the key taken for another payment and is refused (409),
    and what it wrote (its payment and allocations, in the statement that tried the key) is
    rolled back with it."""
    for _round in range(10):
        first, second = (factories.bill(dbsession, ana, amount=20_00) for _bill in (1, 2))
        dbsession.commit()
        key = new_key()

        answers = at_once(
            [lambda bill=bill, key=key: tab.pay(bill, key) for bill in (first, second)]
        )

        assert sorted(answer.status_code for answer in answers) == [303, 409], [
            (answer.status_code, answer.text[:300]) for answer in answers
        ]
        assert "used for a different payment" in next(
            answer.text for answer in answers if answer.status_code == 409
        )
        made = payments_of(dbsession, first) + payments_of(dbsession, second)
        assert len(made) == 1
        assert len(made[0].allocations) == 1


@pytest.mark.postgresql
def test_pay_pressed_twice_at_once_opens_one_provider_page(tab, ana, dbsession, sandbox):
    """A double click (or two tabs) on the review page's "Pay": one request starts the payment
    at the provider, the other waits for it and is sent to the same hosted page; no 500."""
    for _round in range(20):
        bill = factories.bill(dbsession, ana, amount=33_00)
        dbsession.commit()
        review = tab.pay(bill, new_key()).headers["Location"]

        answers = at_once([lambda review=review: tab.checkout(review) for _click in (1, 2)])

        (payment,) = payments_of(dbsession, bill)
        assert [answer.status_code for answer in answers] == [303, 303], [
            (answer.status_code, answer.text[:300]) for answer in answers
        ]
        assert [answer.headers["Location"] for answer in answers] == [payment.hosted_url] * 2
        assert payment.status == state.STARTED
        assert [t.to_status for t in payment.transitions] == [state.STARTED]
        at_provider = provider_view(sandbox, payment)
        assert at_provider.status_code == 200
        assert at_provider.json()["hosted_url"] == payment.hosted_url
        assert at_provider.json()["id"] == payment.provider_payment_id


@pytest.mark.postgresql
def test_duplicate_and_stale_notifications_at_once_settle_exactly_once(
    tab, ana, dbsession, sandbox, portal_url
):
    bill = factories.bill(dbsession, ana, amount=61_20)
    dbsession.commit()
    payment = charged_at_provider(tab, bill, dbsession)
    success = notification_of(sandbox, payment)
    page = f"/payments/{payment.public_id}"

    answers = at_once(
        [lambda: deliver(portal_url, success) for _copy in range(8)]
        + [lambda: tab.get(page) for _look in range(2)]
    )
    assert [answer.status_code for answer in answers] == [200] * 10
    assert sorted(answer.json()["status"] for answer in answers[:8]) == ["duplicate"] * 7 + [
        "processed"
    ]

    stale = [stale_failure(success) for _event in range(4)]
    answers = at_once(
        [lambda: deliver(portal_url, success) for _copy in range(4)]
        + [
            lambda raw=raw, signature=signature: notify(portal_url, raw, signature)
            for raw, signature in stale
        ]
    )
    assert [answer.status_code for answer in answers] == [200] * 8

    dbsession.expire_all()
    payment = dbsession.get(Payment, payment.id)
    assert payment.status == state.SUCCEEDED
    assert settled_transactions(dbsession, payment) == 1
    assert bill_status(dbsession, bill) == PAID
    successes = dbsession.scalars(
        select(PaymentTransition).where(
            PaymentTransition.payment_id == payment.id,
            PaymentTransition.to_status == state.SUCCEEDED,
        )
    ).all()
    assert len(successes) == 1
    assert dbsession.scalar(select(func.count()).select_from(ProviderEventRecord)) == 5


@pytest.mark.postgresql
def test_a_bill_charged_twice_is_refunded_once_and_ends_paid(
    tab, ana, dbsession, sandbox, portal_url
):
    """The first payment expired here while the payer finished it at the provider; a second
    payment of the same bill succeeded too. Both notifications arrive at the same moment."""
    for _round in range(2):
        bill = factories.bill(dbsession, ana, amount=18_00)
        dbsession.commit()
        first = charged_at_provider(tab, bill, dbsession)
        state.transition(first, state.EXPIRED, "not finished in time", dt.datetime.now(dt.UTC))
        dbsession.commit()
        second = charged_at_provider(tab, bill, dbsession)
        assert second.id != first.id
        notices = [notification_of(sandbox, first), notification_of(sandbox, second)]

        answers = at_once([lambda notice=notice: deliver(portal_url, notice) for notice in notices])

        assert [answer.status_code for answer in answers] == [200, 200]
        dbsession.expire_all()
        payments = [dbsession.get(Payment, first.id), dbsession.get(Payment, second.id)]
        assert [settled_transactions(dbsession, payment) for payment in payments] == [1, 1]
        flagged = [payment for payment in payments if payment.needs_attention]
        assert len(flagged) == 1
        assert flagged[0].needs_attention.startswith("overpayment")
        refunds = dbsession.scalars(
            select(Refund).where(Refund.payment_id.in_([first.id, second.id]))
        ).all()
        assert [(refund.payment_id, refund.amount_minor, refund.status) for refund in refunds] == [
            (flagged[0].id, 18_00, "succeeded")
        ]
        assert flagged[0].status == state.REFUNDED
        assert [
            provider_view(sandbox, payment).json()["refunded_amount"] for payment in payments
        ] == [18_00 if payment is flagged[0] else 0 for payment in payments]
        assert bill_status(dbsession, bill) == PAID


@pytest.mark.postgresql
def test_two_clerks_refunding_at_once_never_refund_more_than_was_paid(
    tab, ana, dbsession, sandbox, portal_url, wsgi_app
):
    """Each clerk's page showed the same refundable amount; only the first refund goes ahead."""
    bill = factories.bill(dbsession, ana, amount=50_00)
    dbsession.commit()
    payment = charged_at_provider(tab, bill, dbsession)
    assert deliver(portal_url, notification_of(sandbox, payment)).json()["status"] == "processed"
    factory = wsgi_app.registry["dbsession_factory"]

    def clerk_refunds(amount, seen):
        manager = transaction.TransactionManager(explicit=True)
        try:
            with manager:
                session = get_tm_session(factory, manager)
                shown = session.get(Payment, payment.id)
                barrier.wait(timeout=TIMEOUT)
                record_refund(session, shown, {bill.id: amount}, seen, "Paid twice at the counter")
        except Refusal as refused:
            return status_of(refused)
        return 201

    for each_asks, refunded in ((30_00, 30_00), (20_00, 50_00)):
        dbsession.expire_all()
        seen = dbsession.get(Payment, payment.id).refundable
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(clerk_refunds, [Money(each_asks, "EUR")] * 2, [seen] * 2))

        assert sorted(answers) == [201, 409]
        dbsession.expire_all()
        refunds = dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id)).all()
        assert sum(refund.amount_minor for refund in refunds) == refunded
        assert dbsession.get(Payment, payment.id).refunded_minor == refunded
    # all of it is reserved for the two refunds; the state changes when the provider confirms
    assert dbsession.get(Payment, payment.id).refundable.minor == 0


@pytest.fixture
def issued_bill(dbsession):
    """A bill issued and committed: its ledger entries are in the database."""
    bill = factories.bill(dbsession, factories.user(dbsession), amount=12_50)
    dbsession.commit()
    return bill


@pytest.mark.postgresql
def test_postgresql_keeps_the_ledger_append_only_and_balanced(dbsession, engine, issued_bill):
    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE journal_entry SET amount_minor = amount_minor + 1"))
    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM journal_entry"))
    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE journal_transaction SET description = 'changed'"))

    inserted = False
    with pytest.raises(IntegrityError, match="not balanced"), engine.begin() as connection:
        account = connection.scalar(text("SELECT id FROM ledger_account LIMIT 1"))
        posted = connection.scalar(
            text(
                "INSERT INTO journal_transaction (kind, idempotency, description, created_at) "
                "VALUES ('manual', 'manual:1', 'one-sided', now()) RETURNING id"
            )
        )
        connection.execute(
            text(
                "INSERT INTO journal_entry (transaction_id, account_id, amount_minor, currency) "
                "VALUES (:posted, :account, 100, 'EUR')"
            ),
            {"posted": posted, "account": account},
        )
        inserted = True
    assert inserted, "the balance is checked at commit, not at each insert"

    dbsession.expire_all()
    assert dbsession.scalar(select(func.sum(JournalEntry.amount_minor))) == 0
    assert dbsession.scalar(select(func.count()).select_from(JournalTransaction)) == 1


def test_the_orm_refuses_to_change_or_delete_ledger_entries(dbsession, issued_bill):
    entry = dbsession.scalars(select(JournalEntry)).first()
    entry.amount_minor += 1
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()
    dbsession.rollback()

    dbsession.delete(dbsession.scalars(select(JournalEntry)).first())
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()
    dbsession.rollback()

    posted = dbsession.scalars(select(JournalTransaction)).first()
    posted.description = "changed"
    with pytest.raises(LedgerError, match="append-only"):
        dbsession.flush()
