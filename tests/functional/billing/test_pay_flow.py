"""A citizen pays bills end to end: portal pages, the sandbox's hosted page over real HTTP,
signed notifications and status queries."""

import json
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.billing import printed, state, with_status
from portal.billing.models import JournalTransaction, Payment
from portal.billing.tasks import settle_or_expire
from portal.tasks import task_queue
from tests.functional.applications.test_payment_events import WRITE
from tests.functional.billing.conftest import deliver, notifications_for
from tests.sandbox.conftest import (
    CHALLENGE,
    DECLINED,
    INSUFFICIENT_FUNDS,
    SILENT,
    SUCCESS,
)
from tests.sql import statements


def the_payment(dbsession) -> Payment:
    dbsession.expire_all()
    return dbsession.scalars(select(Payment)).one()


def statuses(dbsession, bills):
    dbsession.expire_all()
    return [view.status for view in with_status(dbsession, bills)]


def settlements(dbsession, payment):
    return dbsession.scalar(
        select(func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.idempotency == f"payment:{payment.id}:settled")
    )


def test_pay_one_bill_with_a_card_that_succeeds(payer, ana_bills, dbsession, sandbox):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    back = payer.enter_card(hosted, SUCCESS)
    assert back.status_code == 303
    payment = the_payment(dbsession)
    assert payment.status == state.STARTED

    # the browser's return proves nothing and changes nothing
    payer.app.get(urlsplit(back.headers["Location"]).path + "?psp_id=forged", status=303)
    assert the_payment(dbsession).status == state.STARTED

    (notification,) = notifications_for(sandbox, payment.public_id)
    assert deliver(payer.app, notification).json == {"status": "processed"}
    payment = the_payment(dbsession)
    assert payment.status == state.SUCCEEDED
    assert payment.method == "Visa •••• 4242"
    assert statuses(dbsession, ana_bills) == ["paid", "open"]
    page = payer.app.get(f"/payments/{payment.public_id}")
    assert "Paid" in page.text and "€120.00" in page.text and "refresh" not in page.text


@pytest.mark.parametrize(
    ("card", "reason", "told"),
    [
        (DECLINED, "card_declined", "The card was declined by its bank."),
        (INSUFFICIENT_FUNDS, "insufficient_funds", "There was not enough money on the card."),
    ],
)
def test_refused_cards_leave_the_bill_open(
    payer, ana_bills, dbsession, sandbox, card, reason, told
):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    assert payer.enter_card(hosted, card).status_code == 303
    payment = the_payment(dbsession)
    (notification,) = notifications_for(sandbox, payment.public_id)
    deliver(payer.app, notification)
    payment = the_payment(dbsession)
    assert (payment.status, payment.failure_reason) == (state.FAILED, reason)
    assert settlements(dbsession, payment) == 0
    assert statuses(dbsession, ana_bills) == ["open", "open"]
    page = payer.app.get(f"/payments/{payment.public_id}")
    assert "Not paid" in page.text
    assert page.html.find(id="failure-reason").text == told


@pytest.mark.parametrize(
    ("code", "outcome"), [("123456", state.SUCCEEDED), ("000000", state.FAILED)]
)
def test_three_d_secure_challenge(payer, ana_bills, dbsession, sandbox, code, outcome):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    challenge = payer.enter_card(hosted, CHALLENGE)
    assert challenge.status_code == 200 and "code" in challenge.text.lower()
    assert payer.answer_challenge(hosted, code).status_code == 303
    (notification,) = notifications_for(sandbox, the_payment(dbsession).public_id)
    deliver(payer.app, notification)
    assert the_payment(dbsession).status == outcome


def test_no_notification_is_found_out_by_asking_the_provider(
    payer, ana_bills, dbsession, sandbox, wsgi_app
):
    from portal.billing.tasks import settle_or_expire_payments

    hosted = payer.checkout(payer.pay(ana_bills))
    assert payer.enter_card(hosted, SILENT).status_code == 303
    payment = the_payment(dbsession)
    assert notifications_for(sandbox, payment.public_id, timeout=0.5) == []
    assert the_payment(dbsession).status == state.STARTED
    settle_or_expire_payments(wsgi_app.registry)
    assert the_payment(dbsession).status == state.SUCCEEDED
    assert statuses(dbsession, ana_bills) == ["paid", "paid"]
    assert settlements(dbsession, payment) == 1


def test_result_page_waits_then_shows_the_outcome(payer, ana_bills, dbsession, sandbox, clock):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payment = the_payment(dbsession)
    waiting = payer.app.get(f"/payments/{payment.public_id}")
    assert "Waiting" in waiting.text
    # the person checks again when they choose: the page never reloads itself (WCAG 2.2.1)
    assert 'http-equiv="refresh"' not in waiting.text
    payer.enter_card(hosted, SILENT)
    clock.advance(seconds=3)
    again = waiting.click(linkid="check-again")  # has the provider asked once it is over
    assert "Waiting" in again.text
    done = again.click(linkid="check-again")
    assert "Paid" in done.text and 'id="check-again"' not in done.text


def test_the_payers_pages_write_nothing_and_a_queued_job_settles_the_payment(
    payer, ana_bills, dbsession, sandbox, wsgi_app, monkeypatch
):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    back = payer.enter_card(hosted, SILENT)
    payment = the_payment(dbsession)
    queue = task_queue(wsgi_app.registry)
    run = queue.enqueue
    queued = []
    monkeypatch.setattr(queue, "enqueue", lambda job, *args: queued.append((job, args)))
    pages = [urlsplit(back.headers["Location"]).path, *[f"/payments/{payment.public_id}"] * 3]
    for url in pages:
        with statements(wsgi_app) as seen:
            payer.app.get(url)
        assert seen, url
        # the sign-in session's row notes when it was last used (its idle timeout), on any page
        writes = [s for s in seen if WRITE.match(s) and not s.startswith("UPDATE web_session")]
        assert writes == [], url
    # however often the page is reloaded within seconds, the provider is asked once
    assert queued == [(settle_or_expire, (payment.id,))]
    assert the_payment(dbsession).status == state.STARTED

    for job, args in queued:
        run(job, *args)
    assert the_payment(dbsession).status == state.SUCCEEDED
    assert statuses(dbsession, ana_bills) == ["paid", "open"]
    assert settlements(dbsession, payment) == 1
    assert "Paid" in payer.app.get(f"/payments/{payment.public_id}").text


def test_duplicate_and_late_notifications_post_once(payer, ana_bills, dbsession, sandbox, wsgi_app):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payer.enter_card(hosted, SUCCESS)
    payment = the_payment(dbsession)
    (notification,) = notifications_for(sandbox, payment.public_id)
    assert deliver(payer.app, notification).json["status"] == "processed"
    assert deliver(payer.app, notification).json["status"] == "duplicate"
    assert settlements(dbsession, payment) == 1
    # a differently-numbered but stale report of the same payment changes nothing either
    from portal.billing.tasks import settle_or_expire

    settle_or_expire(wsgi_app.registry, payment.id)
    assert settlements(dbsession, payment) == 1
    assert statuses(dbsession, ana_bills) == ["paid", "open"]


def test_forged_or_stale_notifications_are_refused(payer, ana_bills, dbsession, sandbox):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payer.enter_card(hosted, SUCCESS)
    payment = the_payment(dbsession)
    (notification,) = notifications_for(sandbox, payment.public_id)
    body = json.loads(notification["body"])
    body["data"]["amount"] = 1
    forged = dict(notification, body=json.dumps(body).encode())
    problem = deliver(payer.app, forged, status=400)
    assert problem.content_type == "application/problem+json"
    stale = dict(
        notification,
        headers={
            "Sandbox-Signature": "t=1000,"
            + notification["headers"]["Sandbox-Signature"].split(",", 1)[1]
        },
    )
    deliver(payer.app, stale, status=400)
    deliver(payer.app, dict(notification, headers={"Sandbox-Signature": "junk"}), status=400)
    assert the_payment(dbsession).status == state.STARTED
    assert settlements(dbsession, payment) == 0


def test_pay_several_bills_at_once(payer, ana_bills, dbsession, sandbox):
    hosted = payer.checkout(payer.pay(ana_bills))
    payment = the_payment(dbsession)
    assert payment.amount_minor == 120_00 + 35_40
    payer.enter_card(hosted, SUCCESS)
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    assert statuses(dbsession, ana_bills) == ["paid", "paid"]
    paid = payer.app.get("/bills", params={"status": "paid"})
    assert printed(ana_bills[0].reference) in paid.text
    assert printed(ana_bills[1].reference) in paid.text


def test_idempotency_key(payer, ana_bills, dbsession):
    key = "k" * 32
    first = payer.pay(ana_bills[:1], key=key)
    again = payer.pay(ana_bills[:1], key=key)
    assert first.status_int == again.status_int == 303
    assert first.location == again.location
    assert dbsession.scalar(select(func.count()).select_from(Payment)) == 1
    other = payer.pay(ana_bills[1:], key=key)
    assert other.status_int == 409
    malformed = payer.pay(ana_bills[1:], key="short")
    assert malformed.status_int == 422
    assert dbsession.scalar(select(func.count()).select_from(Payment)) == 1


def test_second_payment_of_a_bill_in_progress_is_refused(payer, ana_bills, dbsession):
    assert payer.pay(ana_bills[:1]).status_int == 303
    second = payer.pay(ana_bills[:1])
    assert second.status_int == 409
    assert "already in progress" in second.text
    assert dbsession.scalar(select(func.count()).select_from(Payment)) == 1
    in_progress = dbsession.scalars(select(Payment)).one()
    way_on = second.html.find("a", string="See that payment")
    assert way_on["href"] == f"/payments/{in_progress.public_id}"


def test_payment_expires_and_a_late_success_is_still_posted(
    payer, ana_bills, dbsession, sandbox, wsgi_app, clock
):
    import datetime as dt

    from portal.billing.tasks import settle_or_expire

    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payment = the_payment(dbsession)
    clock.advance(minutes=89)
    settle_or_expire(wsgi_app.registry, payment.id)
    assert the_payment(dbsession).status == state.STARTED
    clock.advance(minutes=2)
    settle_or_expire(wsgi_app.registry, payment.id)
    assert the_payment(dbsession).status == state.EXPIRED
    # The sandbox signs its notification with the real time, which the portal checks its own
    # against: the clocks agree again before the payer finishes at the provider.
    clock.set(dt.datetime.now(dt.UTC))
    payer.enter_card(hosted, SUCCESS)
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    payment = the_payment(dbsession)
    assert payment.status == state.SUCCEEDED
    assert [t.to_status for t in payment.transitions] == ["started", "expired", "succeeded"]
    assert statuses(dbsession, ana_bills) == ["paid", "open"]


def test_other_people_cannot_see_my_payment(payer, ana_bills, dbsession, testapp, devidp):
    from tests.conftest import sign_in

    payer.pay(ana_bills[:1])
    payment = the_payment(dbsession)
    testapp.reset()
    sign_in(testapp, devidp, "citizen-ben")
    testapp.get(f"/payments/{payment.public_id}", status=403)
    testapp.get(f"/payments/{payment.public_id}/checkout", status=403)
    assert printed(ana_bills[0].reference) not in testapp.get("/bills", {"status": "all"}).text


def test_history_filters_and_csv(payer, ana_bills, dbsession, sandbox):
    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payer.enter_card(hosted, DECLINED)
    payment = the_payment(dbsession)
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    history = payer.app.get("/payments")
    assert payment.public_id in history.text
    assert payment.public_id not in payer.app.get("/payments", params={"status": "succeeded"}).text
    csv_text = payer.app.get("/payments.csv", params={"status": "failed"}).text
    assert payment.public_id in csv_text and ana_bills[0].reference in csv_text
    payer.app.get("/payments", params={"from": "yesterday"}, status=400)


def test_history_days_are_the_portals_days(payer, ana_bills, dbsession, clock):
    """Ljubljana is one or two hours ahead of UTC: a payment made at 23:30 UTC on one day was
    made on the next day there, as the history prints it."""
    import datetime as dt

    utc_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    clock.set(dt.datetime.combine(utc_day, dt.time(23, 30), dt.UTC))
    payer.pay(ana_bills[:1])
    payment = the_payment(dbsession)
    portal_day = (utc_day + dt.timedelta(days=1)).isoformat()
    of_portal_day = payer.app.get("/payments", params={"from": portal_day, "to": portal_day})
    assert payment.public_id in of_portal_day.text
    of_utc_day = payer.app.get(
        "/payments", params={"from": utc_day.isoformat(), "to": utc_day.isoformat()}
    )
    assert payment.public_id not in of_utc_day.text


def test_late_success_without_notification_is_found_after_expiry(
    payer, ana_bills, dbsession, sandbox, wsgi_app, clock
):
    from portal.billing.tasks import settle_or_expire, settle_or_expire_payments

    hosted = payer.checkout(payer.pay(ana_bills[:1]))
    payment = the_payment(dbsession)
    clock.advance(minutes=91)
    settle_or_expire(wsgi_app.registry, payment.id)
    assert the_payment(dbsession).status == state.EXPIRED
    payer.enter_card(hosted, SILENT)  # paid just in time; the provider never says so by itself
    settle_or_expire_payments(wsgi_app.registry)
    assert the_payment(dbsession).status == state.SUCCEEDED
    assert statuses(dbsession, ana_bills) == ["paid", "open"]
