"""A clerk refunds a payment from the back office; the refund reaches the real sandbox and the
ledger, and every refused attempt changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.billing import ledger
from portal.billing.models import Refund
from portal.identity.models import User
from portal.money import Money
from tests.error_summary import assert_error_summary
from tests.functional.backoffice.conftest import csrf_token, the_payment


def refunds_of(dbsession, payment) -> list[Refund]:
    dbsession.expire_all()
    return list(
        dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id))
    )


def assert_untouched(dbsession, provider, payment, refunded=0, status="succeeded"):
    """The portal and the provider both still show only ``refunded`` minor units refunded."""
    current = the_payment(dbsession, payment.public_id)
    assert current.status == status
    assert current.refunded_minor == refunded
    assert sum(r.amount_minor for r in refunds_of(dbsession, payment)) == refunded
    assert provider.query_payment(payment.public_id).refunded == Money(refunded, "EUR")
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 12_50 - refunded}


def refund_form(app, payment):
    return app.get(f"/backoffice/payments/{payment.public_id}").forms["refund-form"]


def field(payment) -> str:
    """The amount field of the payment's one bill."""
    return f"amount-{payment.allocations[0].bill.public_id}"


def test_clerk_refunds_partly_then_in_full(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    bill_id = payment.allocations[0].bill_id
    app = signed_in("clerk-clara")
    page = app.get(f"/backoffice/payments/{payment.public_id}")
    assert payment.allocations[0].bill.reference in page.text
    form = page.forms["refund-form"]
    assert form["seen_refundable"].value == "12.50"
    assert form[field(payment)].value == ""
    form[field(payment)] = "5,00"
    form["reason"] = "Paid twice: once at the counter"
    confirm = form.submit(status=200)
    assert "Refund €5.00" in confirm.text
    assert refunds_of(dbsession, payment) == []
    done = confirm.forms["confirm-form"].submit(status=303)
    assert done.location == f"https://localhost/backoffice/payments/{payment.public_id}"
    shown = done.follow()
    assert "Refund of €5.00 requested" in shown.text
    assert "Paid twice: once at the counter" in shown.text and "Clara" in shown.text

    current = the_payment(dbsession, payment.public_id)
    assert current.status == "partly_refunded"
    (refund,) = refunds_of(dbsession, payment)
    assert (refund.amount_minor, refund.status) == (5_00, "succeeded")
    assert refund.provider_refund_id is not None
    clara = dbsession.scalar(select(User).where(User.name_id == "clerk-clara"))
    assert refund.requested_by_id == clara.id
    assert provider.query_payment(payment.public_id).refunded == Money(5_00, "EUR")
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 7_50}
    assert ledger.bill_balances(dbsession, [bill_id]) == {bill_id: 5_00}

    form = shown.forms["refund-form"]
    assert form["seen_refundable"].value == "7.50"
    form[field(payment)] = "7.50"
    form["reason"] = "The licence was withdrawn"
    form.submit(status=200).forms["confirm-form"].submit(status=303)

    current = the_payment(dbsession, payment.public_id)
    assert current.status == "refunded" and current.refunded_minor == 12_50
    assert [r.status for r in refunds_of(dbsession, payment)] == ["succeeded", "succeeded"]
    assert provider.query_payment(payment.public_id).refunded == Money(12_50, "EUR")
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
    assert ledger.bill_balances(dbsession, [bill_id]) == {bill_id: 12_50}
    final = app.get(f"/backoffice/payments/{payment.public_id}")
    assert "refund-form" not in final.text
    assert [t.to_status for t in current.transitions][-2:] == ["partly_refunded", "refunded"]


def test_a_refund_on_a_stale_refundable_amount_is_refused(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    app = signed_in("clerk-clara")
    first, second = refund_form(app, payment), refund_form(app, payment)
    first[field(payment)], first["reason"] = "5.00", "Counter payment"
    second[field(payment)], second["reason"] = "5.00", "Same thing, other tab"
    confirmed_too_late = second.submit(status=200).forms["confirm-form"]
    first.submit(status=200).forms["confirm-form"].submit(status=303)
    for stale in (second, confirmed_too_late):
        conflict = stale.submit(status=409)
        assert "The refundable amount changed meanwhile" in conflict.text
        assert conflict.forms["refund-form"]["seen_refundable"].value == "7.50"
        assert conflict.forms["refund-form"][field(payment)].value == "5.00"
    assert_untouched(dbsession, provider, payment, refunded=5_00, status="partly_refunded")


def test_more_than_refundable_is_refused(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    form = refund_form(signed_in("clerk-clara"), payment)
    form[field(payment)], form["reason"] = "12.51", "Too much"
    refused = form.submit(status=422)
    assert "is more than this payment can still give back on it" in refused.text
    assert_error_summary(refused, [field(payment)])
    assert_untouched(dbsession, provider, payment)


def test_an_amount_that_is_not_money_is_refused(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    app = signed_in("clerk-clara")
    for typed in ("five", "1.005", "0", "-3", "sNaN", "Infinity", "1e400"):
        form = refund_form(app, payment)
        form[field(payment)], form["reason"] = typed, "Typo"
        refused = form.submit(status=422)
        assert_error_summary(refused, [field(payment)])
    assert_untouched(dbsession, provider, payment)


def test_a_refund_needs_a_reason(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    form = refund_form(signed_in("clerk-clara"), payment)
    form[field(payment)], form["reason"] = "2.00", "   "
    refused = form.submit(status=422)
    assert "Give a reason for the refund." in refused.text
    assert_error_summary(refused, ["reason"])
    assert refused.forms["refund-form"][field(payment)].value == "2.00"
    assert_untouched(dbsession, provider, payment)


def test_a_refund_of_no_bill_links_to_the_first_amount_field(
    signed_in, payments, dbsession, provider
):
    """No amount on any bill: the summary links to the first bill's amount field, which
    shows why."""
    payment = payments.settled(amount=12_50)
    form = refund_form(signed_in("clerk-clara"), payment)
    form["reason"] = "Paid twice"
    refused = form.submit(status=422)
    (link,) = refused.html.find(id="form-errors").find_all("a")
    assert link["href"] == f"#{field(payment)}"
    amount = refused.html.find(id=field(payment))
    assert "amounts-error" in amount["aria-describedby"].split()
    assert "Choose the bill or bills" in refused.html.find(id="amounts-error").text
    assert refused.html.find(id="reason").text == "Paid twice"
    assert_untouched(dbsession, provider, payment)


def test_a_refund_without_the_csrf_token_or_the_amount_seen_is_refused(
    signed_in, payments, dbsession, provider
):
    payment = payments.settled(amount=12_50)
    app = signed_in("clerk-clara")
    fields = {field(payment): "2.00", "reason": "Forged", "seen_refundable": "12.50"}
    token = csrf_token(app)
    for step in ("refunds/confirm", "refunds"):
        url = f"/backoffice/payments/{payment.public_id}/{step}"
        app.post(url, fields, status=400)
        app.post(url, {**fields, "csrf_token": "not-the-token"}, status=400)
        for seen in ("", "sNaN"):
            app.post(url, {**fields, "seen_refundable": seen, "csrf_token": token}, status=400)
    assert_untouched(dbsession, provider, payment)


def test_a_clerk_of_another_department_may_not_refund(signed_in, payments, dbsession, provider):
    payment = payments.settled(amount=12_50)
    app = signed_in("clerk-dan")
    app.get(f"/backoffice/payments/{payment.public_id}", status=403)
    app.get("/backoffice/departments/revenue/payments", status=403)
    fields = {field(payment): "2.00", "reason": "Not mine", "seen_refundable": "12.50"}
    app.post(
        f"/backoffice/payments/{payment.public_id}/refunds",
        {**fields, "csrf_token": csrf_token(app)},
        status=403,
    )
    assert_untouched(dbsession, provider, payment)


def test_the_clerk_of_registry_refunds_a_registry_payment(signed_in, payments, dbsession):
    """The refusal above is about the department, not about clerk-dan."""
    payment = payments.settled(amount=30_00, service_code="vehicle-registration")
    form = refund_form(signed_in("clerk-dan"), payment)
    form[field(payment)], form["reason"] = "30", "Registration refused"
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    assert the_payment(dbsession, payment.public_id).status == "refunded"


def test_a_citizen_may_not_refund_even_their_own_payment(signed_in, payments, dbsession, provider):
    app = signed_in("citizen-ana")
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    payment = payments.settled(amount=12_50, payer=ana)
    app.get(f"/payments/{payment.public_id}", status=200)
    app.get(f"/backoffice/payments/{payment.public_id}", status=403)
    fields = {field(payment): "2.00", "reason": "Give it back", "seen_refundable": "12.50"}
    app.post(
        f"/backoffice/payments/{payment.public_id}/refunds",
        {**fields, "csrf_token": csrf_token(app)},
        status=403,
    )
    assert_untouched(dbsession, provider, payment)
    assert dbsession.scalar(select(func.count()).select_from(Refund)) == 0


def test_payment_pages_lead_back_through_the_department_and_tag_statuses(
    signed_in, payments, dbsession
):
    payment = payments.settled(amount=12_50)
    department = payment.allocations[0].bill.service.department
    app = signed_in("clerk-clara")
    page = app.get(f"/backoffice/payments/{payment.public_id}")

    crumbs = page.html.select(".usa-breadcrumb__list-item")
    assert [c.text.strip() for c in crumbs] == [
        "Home",
        "Back office",
        department.name,
        "Payments",
        "Payment €12.50",
    ]
    assert crumbs[3].a["href"] == f"/backoffice/departments/{department.code}/payments"
    assert page.html.select_one("#payment-status .usa-tag").text == "Paid"
    assert page.html.find(id="refundable").text == "€12.50"

    form = page.forms["refund-form"]
    form[field(payment)] = "2.00"
    form["reason"] = "Paid twice"
    confirm = form.submit(status=200)
    crumbs = confirm.html.select(".usa-breadcrumb__list-item")
    assert [c.text.strip() for c in crumbs][-2:] == ["Payment €12.50", "Confirm the refund"]
    assert crumbs[-2].a["href"] == f"/backoffice/payments/{payment.public_id}"

    listing = app.get(f"/backoffice/departments/{department.code}/payments")
    assert [c.text.strip() for c in listing.html.select(".usa-breadcrumb__list-item")] == [
        "Home",
        "Back office",
        department.name,
        "Payments",
    ]
    assert "Paid" in [t.text for t in listing.html.select("#recent .usa-tag")]
