"""The steps of paying: the review page the bills page leads to (bills, late interest, total,
who pays), the "Pay" button that alone opens the provider's page, cancelling before paying,
"Try again" after a refused card, and what the result page says after a partial refund."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal.billing import state
from portal.billing.models import Bill, Payment, PaymentTransition
from portal.identity.models import Organisation
from tests import factories
from tests.conftest import sign_in, stay_active
from tests.functional.billing.conftest import Payer, deliver, notifications_for
from tests.functional.services.conftest import today
from tests.sandbox.conftest import DECLINED, SUCCESS


def payments(dbsession) -> list[Payment]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(Payment).order_by(Payment.id)))


def at_provider(sandbox, payment):
    return sandbox.api.get(
        f"{sandbox.base_url}/v1/payments", params={"reference": payment.public_id}
    )


def post(app, path, params, status):
    """A form post as a browser on the portal's own page sends it (Origin checked over HTTPS)."""
    return app.post(path, params, headers={"Origin": "https://localhost"}, status=status)


def cells(row) -> dict[str, str]:
    return {
        cell["data-label"]: " ".join(cell.stripped_strings) for cell in row.select("[data-label]")
    }


def settle_with_card(payer, sandbox, dbsession, response, card):
    """Review, pay on the hosted page with ``card``, and hand the provider's word to the
    portal; returns the payment."""
    payer.enter_card(payer.checkout(response), card)
    public_id = urlsplit(response.location).path.split("/")[2]
    deliver(payer.app, notifications_for(sandbox, public_id)[0])
    dbsession.expire_all()
    return dbsession.scalar(select(Payment).where(Payment.public_id == public_id))


def test_review_shows_each_bill_its_late_interest_the_total_and_the_payer(
    payer, ana, dbsession, sandbox
):
    """500.00 due 30 days ago at 8 % a year: 3.29 interest, in its own column, on its bill."""
    overdue = factories.bill(
        dbsession, ana, amount=500_00, due=today() - dt.timedelta(days=30), description="Tax Q1"
    )
    water = factories.bill(
        dbsession,
        ana,
        amount=35_40,
        service_code="water",
        due=today() + dt.timedelta(days=9),
        description="Water, October",
    )
    dbsession.commit()

    review = payer.review(payer.pay([overdue, water]))

    rows = [cells(row) for row in review.html.select(".portal-review tbody tr")]
    assert [(row["Amount"], row["Late interest"], row["To pay"]) for row in rows] == [
        ("€500.00", "€3.29 Late payment interest: 30 days at 8% a year", "€503.29"),
        ("€35.40", "None —", "€35.40"),
    ]
    assert rows[0]["Bill"].startswith("Tax Q1") and "Overdue" in rows[0]["Due"]
    assert rows[1]["Bill"].startswith("Water, October") and "Overdue" not in rows[1]["Due"]
    assert review.html.find(id="payment-summary").text == "Total to pay: €538.69"
    assert review.html.find(id="payer").text == "Ana Novak"
    assert review.forms["checkout-form"].method.lower() == "post"
    assert "csrf_token" in review.forms["checkout-form"].fields
    (payment,) = payments(dbsession)
    assert payment.amount_minor == 500_00 + 3_29 + 35_40
    # a current step, in USWDS's markup
    current = review.html.select_one(".usa-step-indicator__segment--current")
    assert current["aria-current"] == "step" and current.text.strip() == "Review"
    # the way back: breadcrumbs up to the bills
    crumbs = review.html.select(".usa-breadcrumb__list-item")
    assert [c.text.strip() for c in crumbs] == ["Home", "Your bills", "Check your payment"]
    assert crumbs[1].a["href"] == "/bills"


def test_review_of_an_organisations_bills_names_the_organisation(
    testapp, devidp, departments, dbsession, sandbox
):
    sign_in(testapp, devidp, "rep-olga")
    northwind = dbsession.scalar(
        select(Organisation).where(Organisation.registration_number == "NW-100200")
    )
    bill = factories.bill(dbsession, amount=80_00, organisation=northwind)
    dbsession.commit()
    payer = Payer(testapp, sandbox, dbsession)

    review = payer.review(payer.pay([bill], group=1))  # her own bills come first

    assert review.html.find(id="payer").text == "Northwind Supplies Ltd"
    assert "Olga Marin" in review.html.select_one(".usa-summary-box").text
    (payment,) = payments(dbsession)
    assert payment.payer_organisation_id == northwind.id


def test_opening_the_review_page_changes_nothing_and_only_pay_starts_the_payment(
    payer, ana_bills, dbsession, sandbox
):
    answer = payer.pay(ana_bills[:1])
    for _visit in range(3):
        payer.review(answer)
    (payment,) = payments(dbsession)
    assert payment.status == state.CREATED and payment.hosted_url is None
    assert at_provider(sandbox, payment).status_code == 404
    assert dbsession.scalar(select(func.count()).select_from(PaymentTransition)) == 0
    # "Pay" without the form's CSRF token is refused and changes nothing either
    path = urlsplit(answer.location).path
    post(payer.app, path, {}, status=400)
    assert payments(dbsession)[0].status == state.CREATED

    hosted = payer.checkout(answer)

    (payment,) = payments(dbsession)
    assert payment.status == state.STARTED and payment.hosted_url == hosted
    assert at_provider(sandbox, payment).json()["id"] == payment.provider_payment_id


def test_one_rendered_form_submitted_twice_is_one_payment_and_one_provider_page(
    payer, ana_bills, dbsession, sandbox
):
    """The bills page's form carries one idempotency key; the review page's "Pay" is keyed on
    the payment: sending either twice (a double click, Back and again) makes nothing new."""
    form = payer.bills_form()
    for checkbox in form.fields["bill"]:
        checkbox.checked = True
    first, again = form.submit(status=303), form.submit(status=303)
    assert first.location == again.location
    review = payer.review(first).forms["checkout-form"]
    hosted = [review.submit(status=303).location for _click in range(2)]
    assert hosted[0] == hosted[1]

    (payment,) = payments(dbsession)
    assert [t.to_status for t in payment.transitions] == [state.STARTED]
    assert at_provider(sandbox, payment).json()["hosted_url"] == hosted[0]


def test_a_started_payment_reviewed_again_goes_back_to_its_provider_page(
    payer, ana_bills, dbsession
):
    answer = payer.pay(ana_bills[:1])
    hosted = payer.checkout(answer)
    review = payer.review(answer)
    assert "Continue to the payment page" in review.forms["checkout-form"].text
    assert review.forms["checkout-form"].submit(status=303).location == hosted
    assert "cancel-form" not in review.forms  # sent to the provider: only the provider ends it


def test_cancel_on_the_review_page_frees_the_bills(payer, ana_bills, dbsession):
    answer = payer.pay(ana_bills[:1])
    back = payer.review(answer).forms["cancel-form"].submit(status=303)
    assert urlsplit(back.location).path == "/bills"
    assert "The payment was cancelled. Nothing was charged." in back.follow().text
    (cancelled,) = payments(dbsession)
    assert cancelled.status == state.CANCELLED
    post(payer.app, urlsplit(answer.location).path, {}, status=400)  # no token: nothing
    # the same bill can be paid again at once, in a new payment
    assert payer.pay(ana_bills[:1]).status_int == 303
    assert [p.status for p in payments(dbsession)] == [state.CANCELLED, state.CREATED]


def test_try_again_after_a_declined_card_pays_the_same_bills_in_a_new_payment(
    payer, ana_bills, dbsession, sandbox
):
    declined = settle_with_card(payer, sandbox, dbsession, payer.pay(ana_bills), DECLINED)
    assert declined.status == state.FAILED

    page = payer.app.get(f"/payments/{declined.public_id}")
    assert page.html.find(id="status-tag").text == "Failed"
    assert "(Failed)" not in page.text
    assert page.html.find(id="failure-reason").text == "The card was declined by its bank."
    assert page.html.find("a", string="Back to your bills")["href"] == "/bills"
    again = page.forms["retry-form"].submit(status=303)
    assert page.forms["retry-form"].submit(status=303).location == again.location  # once

    paid = settle_with_card(payer, sandbox, dbsession, again, SUCCESS)

    assert paid.id != declined.id and paid.status == state.SUCCEEDED
    assert {a.bill_id for a in paid.allocations} == {bill.id for bill in ana_bills}
    assert paid.amount_minor == declined.amount_minor == 120_00 + 35_40
    assert [p.status for p in payments(dbsession)] == [state.FAILED, state.SUCCEEDED]
    assert "Try again" not in payer.app.get(f"/payments/{paid.public_id}").text


def test_try_again_is_only_for_payments_that_did_not_go_through(payer, ana_bills, dbsession):
    answer = payer.pay(ana_bills[:1])
    (payment,) = payments(dbsession)
    page = payer.app.get(f"/payments/{payment.public_id}")
    assert "retry-form" not in page.forms
    token = payer.review(answer).forms["checkout-form"]["csrf_token"].value
    retried = post(
        payer.app,
        f"/payments/{payment.public_id}/retry",
        {"csrf_token": token, "idempotency_key": "r" * 32},
        status=303,
    )
    assert urlsplit(retried.location).path == f"/payments/{payment.public_id}"
    assert len(payments(dbsession)) == 1


def test_a_partly_refunded_payment_says_how_much_came_back(
    payer, ana_bills, dbsession, sandbox, wsgi_app
):
    paid = settle_with_card(payer, sandbox, dbsession, payer.pay(ana_bills), SUCCESS)
    factories.refund_bill_paid(wsgi_app, paid.id, 35_40, "Water billed twice")

    page = payer.app.get(f"/payments/{paid.public_id}")

    assert page.html.select_one(".usa-alert__heading").text == "Paid, partly refunded"
    assert page.html.find(id="outcome").text == (
        "You paid €155.40. €35.40 of it was refunded to you; €120.00 stays paid."
    )
    assert "Thank you. The payment has been received." not in page.text
    details = {
        row.dt.text: row.dd.text for row in page.html.select("#details .portal-summary-list__row")
    }
    assert details["Status"] == "Partly refunded" and details["Refunded"] == "€35.40"
    crumbs = page.html.select(".usa-breadcrumb__list-item")
    assert [c.text.strip() for c in crumbs] == ["Home", "Your payments", "Payment"]


def test_others_cannot_review_pay_cancel_or_retry_my_payment(
    payer, ana_bills, dbsession, testapp, devidp
):
    answer = payer.pay(ana_bills[:1])
    token = payer.review(answer).forms["checkout-form"]["csrf_token"].value
    (payment,) = payments(dbsession)
    testapp.reset()
    sign_in(testapp, devidp, "citizen-ben")
    testapp.get(f"/payments/{payment.public_id}/checkout", status=403)
    for action in ("checkout", "cancel", "retry"):
        post(testapp, f"/payments/{payment.public_id}/{action}", {"csrf_token": token}, status=403)
    assert payments(dbsession)[0].status == state.CREATED
    assert dbsession.scalar(select(func.count()).select_from(Bill)) == 2


def test_pay_on_a_review_page_left_open_too_long_offers_a_new_payment(
    payer, ana_bills, dbsession, sandbox, clock
):
    """The payer works on in another tab for longer than a payment waits (90 minutes)."""
    answer = payer.pay(ana_bills[:1])
    form = payer.review(answer).forms["checkout-form"]
    stay_active(payer.app, clock, minutes=91)

    outcome = form.submit(status=303)

    (payment,) = payments(dbsession)
    assert urlsplit(outcome.location).path == f"/payments/{payment.public_id}"
    assert payment.status == state.EXPIRED and payment.hosted_url is None
    assert at_provider(sandbox, payment).status_code == 404
    page = outcome.follow()
    assert page.html.find(id="status-tag").text == "Expired"
    assert "retry-form" in page.forms


def test_try_again_leaves_out_bills_paid_meanwhile(payer, ana_bills, dbsession, sandbox):
    from tests.functional.billing.test_bills_page import settle

    declined = settle_with_card(payer, sandbox, dbsession, payer.pay(ana_bills), DECLINED)
    retry = payer.app.get(f"/payments/{declined.public_id}").forms["retry-form"]
    settle(dbsession, ana_bills[0], ana_bills[0].total_minor)  # paid at the counter
    dbsession.commit()

    again = payer.review(retry.submit(status=303))

    (row,) = map(cells, again.html.select(".portal-review tbody tr"))
    assert row["Bill"].startswith("Water, October") and row["To pay"] == "€35.40"
    settle(dbsession, ana_bills[1], ana_bills[1].total_minor)
    dbsession.commit()
    nothing = (
        payer.app.get(f"/payments/{declined.public_id}").forms["retry-form"].submit(status=409)
    )
    assert "These bills have nothing left to pay." in nothing.text
