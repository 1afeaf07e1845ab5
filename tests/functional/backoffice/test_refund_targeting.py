"""A clerk's refund gives money back on the bills the clerk chose, by the amounts chosen, after
a confirmation page that shows what the payer will owe on each bill; anything else is refused
and changes nothing. The bills are those of issue #9: a water bill, a property tax instalment
and its interest, paid together."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import lxml.html
import pytest
from sqlalchemy import func, select

from portal.billing import ledger, with_status
from portal.billing.models import JournalTransaction, Payment, Refund, RefundLine
from portal.money import Money
from portal.receipts.models import Receipt
from tests import factories
from tests.functional.backoffice.conftest import (
    WaterTaxAndInterest,
    csrf_token,
    refund_form,
    the_payment,
    water_tax_and_interest,
)
from tests.functional.receipts.documents import printed_document

REASON = "Water bill charged twice"


@dataclass
class Scenario:
    bills: WaterTaxAndInterest
    payment: Payment


@pytest.fixture
def paid(payments, dbsession) -> Scenario:
    payer = factories.user(dbsession, "citizen-ben")
    bills = water_tax_and_interest(dbsession, payer)
    return Scenario(bills, payments.settled_for(bills.bills, payer))


def url(payment: Payment, step: str = "") -> str:
    return f"/backoffice/payments/{payment.public_id}{step}"


def field(bill) -> str:
    return f"amount-{bill.public_id}"


def statuses(dbsession, scenario: Scenario) -> list[str]:
    dbsession.expire_all()
    return [view.status for view in with_status(dbsession, scenario.bills.bills)]


def snapshot(dbsession, provider, scenario: Scenario) -> tuple:
    """Everything a refund would change: the payment, the refunds, the ledger, the provider."""
    dbsession.expire_all()
    payment = the_payment(dbsession, scenario.payment.public_id)
    count = lambda model: dbsession.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        payment.status,
        payment.refunded_minor,
        [(a.bill_id, a.refunded_minor) for a in payment.allocations],
        count(Refund),
        count(RefundLine),
        count(JournalTransaction),
        count(Receipt),
        ledger.bill_balances(dbsession, [bill.id for bill in scenario.bills.bills]),
        provider.query_payment(payment.public_id).refunded,
    )


def choose(app, payment: Payment, amounts: dict, reason: str = REASON):
    return refund_form(app, payment, amounts, reason)


def after_rows(page) -> dict[str, list[str]]:
    """The confirmation page's table: bill public id -> the texts of its cells."""
    table = lxml.html.fromstring(page.text).get_element_by_id("after")
    return {
        row.get("id").removeprefix("after-"): [
            " ".join(cell.text_content().split()) for cell in row.xpath("th|td")
        ]
        for row in table.xpath(".//tbody/tr")
    }


def provider_refunds(provider, payment: Payment) -> list:
    """The refunds of ``payment`` in the provider's settlement report of today."""
    today = dt.datetime.now(dt.UTC).date()
    return [
        line
        for line in provider.settlement_report(today)
        if line.kind == "refund" and line.provider_payment_id == payment.provider_payment_id
    ]


def test_nothing_is_chosen_until_the_clerk_chooses(signed_in, paid):
    page = signed_in("clerk-clara").get(url(paid.payment))
    form = page.forms["refund-form"]
    assert [form[field(bill)].value for bill in paid.bills.bills] == ["", "", ""]
    hints = {
        " ".join(hint.text_content().split()): hint.get("id")
        for hint in lxml.html.fromstring(page.text).find_class("usa-hint")
    }
    water, tax, interest = paid.bills.bills
    assert hints["At most €21.00"] == f"{field(water)}-hint"
    assert hints["At most €206.30"] == f"{field(tax)}-hint"
    assert hints["At most €2.03"] == f"{field(interest)}-hint"


def test_the_clerk_refunds_the_water_bill_alone(signed_in, paid, dbsession, provider, tmp_path):
    water, tax, interest = paid.bills.bills
    before = snapshot(dbsession, provider, paid)
    assert statuses(dbsession, paid) == ["paid", "paid", "paid"]
    app = signed_in("clerk-clara")

    confirm = choose(app, paid.payment, {water: "21.00"}).submit(status=200)
    assert "Refund €21.00 to" in confirm.text and REASON in confirm.text
    rows = after_rows(confirm)
    assert rows[water.public_id][2:] == ["€21.00", "€0.00", "€21.00", "Paid → To pay"]
    assert rows[tax.public_id][2:] == ["Not refunded", "€0.00", "€0.00", "Paid"]
    assert rows[interest.public_id][2:] == ["Not refunded", "€0.00", "€0.00", "Paid"]
    assert snapshot(dbsession, provider, paid) == before  # the confirmation changes nothing

    done = confirm.forms["confirm-form"].submit(status=303).follow()
    assert "Refund of €21.00 requested" in done.text
    assert "W-2026-0042: €21.00" in done.text
    assert statuses(dbsession, paid) == ["open", "paid", "paid"]
    assert ledger.bill_balances(dbsession, [water.id, tax.id, interest.id]) == {
        water.id: 21_00,
        tax.id: 0,
        interest.id: 0,
    }
    (refund,) = dbsession.scalars(select(Refund)).all()
    assert (refund.status, refund.amount_minor, refund.reason) == ("succeeded", 21_00, REASON)
    assert [(line.bill_id, line.amount_minor) for line in refund.lines] == [(water.id, 21_00)]
    payment = the_payment(dbsession, paid.payment.public_id)
    assert payment.status == "partly_refunded"
    assert {a.bill_id: a.refunded_minor for a in payment.allocations} == {
        water.id: 21_00,
        tax.id: 0,
        interest.id: 0,
    }
    assert [line.amount for line in provider_refunds(provider, payment)] == [-Money(21_00, "EUR")]

    credit_note = dbsession.scalar(select(Receipt).where(Receipt.refund_id == refund.id))
    document = printed_document(credit_note.pdf, tmp_path)
    assert document.bills == {water.number: "€21.00"}
    assert document.total == ("Total refunded", "€21.00")
    assert tax.number not in document.text and interest.number not in document.text
    assert [(b["number"], b["amount_minor"]) for b in document.data["bills"]] == [
        (water.number, 21_00)
    ]
    assert document.data["total_minor"] == 21_00


def test_one_refund_over_two_bills_by_the_amounts_chosen(
    signed_in, paid, dbsession, provider, tmp_path
):
    water, tax, interest = paid.bills.bills
    app = signed_in("clerk-clara")
    confirm = choose(app, paid.payment, {tax: "50", interest: "2,03"}, "Instalment reduced").submit(
        status=200
    )
    rows = after_rows(confirm)
    assert rows[water.public_id][2:] == ["Not refunded", "€0.00", "€0.00", "Paid"]
    assert rows[tax.public_id][2:] == ["€50.00", "€0.00", "€50.00", "Paid → Partly paid"]
    assert rows[interest.public_id][2:] == ["€2.03", "€0.00", "€2.03", "Paid → To pay"]
    assert "Refund €52.03 to" in confirm.text

    confirm.forms["confirm-form"].submit(status=303)
    assert statuses(dbsession, paid) == ["paid", "partly_paid", "open"]
    (refund,) = dbsession.scalars(select(Refund)).all()
    assert refund.amount_minor == 52_03
    assert [(line.bill_id, line.amount_minor) for line in refund.lines] == [
        (tax.id, 50_00),
        (interest.id, 2_03),
    ]
    # one refund at the provider for the clerk's one action
    payment = the_payment(dbsession, paid.payment.public_id)
    assert [line.amount for line in provider_refunds(provider, payment)] == [-Money(52_03, "EUR")]

    credit_note = dbsession.scalar(select(Receipt).where(Receipt.refund_id == refund.id))
    document = printed_document(credit_note.pdf, tmp_path)
    assert document.bills == {tax.number: "€50.00", interest.number: "€2.03"}
    assert document.total == ("Total refunded", "€52.03")
    assert water.number not in document.text


def test_each_refund_lowers_what_its_bills_can_still_give_back(
    signed_in, paid, dbsession, provider
):
    water, tax, _ = paid.bills.bills
    app = signed_in("clerk-clara")
    choose(app, paid.payment, {water: "10"}).submit(status=200).forms["confirm-form"].submit(
        status=303
    )
    refused = choose(app, paid.payment, {water: "11.01"}).submit(status=422)
    assert "more than this payment can still give back on it" in refused.text
    page = app.get(url(paid.payment))
    assert "At most €11.00" in page.text
    choose(app, paid.payment, {water: "11"}).submit(status=200).forms["confirm-form"].submit(
        status=303
    )
    form = app.get(url(paid.payment)).forms["refund-form"]
    assert field(water) not in form.fields and field(tax) in form.fields
    assert statuses(dbsession, paid) == ["open", "paid", "paid"]
    assert the_payment(dbsession, paid.payment.public_id).refunded_minor == 21_00


def refusals(scenario: Scenario, other_bill) -> list[tuple[str, dict, int, str]]:
    water, tax, interest = scenario.bills.bills
    too_much = "more than this payment can still give back on it"
    not_money = "Enter each amount as a number"
    return [
        ("no bill chosen", {}, 422, "Choose the bill or bills to refund"),
        ("no bill chosen (blank)", {field(water): "  "}, 422, "Choose the bill or bills"),
        ("above the water bill's share", {field(water): "21.01"}, 422, too_much),
        ("above the interest's share", {field(interest): "2.04"}, 422, too_much),
        ("the tax's share on the interest", {field(interest): "206.30"}, 422, too_much),
        ("zero", {field(tax): "0"}, 422, "must be more than zero"),
        ("negative", {field(tax): "-3"}, 422, "must be more than zero"),
        ("one bill fine, one negative", {field(tax): "3", field(water): "-3"}, 422, "more than"),
        ("words", {field(tax): "five"}, 422, not_money),
        ("a cent too fine", {field(tax): "1.005"}, 422, not_money),
        ("not a number", {field(tax): "NaN"}, 422, not_money),
        ("signalling NaN", {field(tax): "sNaN"}, 422, not_money),
        ("infinite", {field(tax): "Infinity"}, 422, not_money),
        ("huge", {field(tax): "9" * 40}, 422, not_money),
        ("a bill of another payment", {field(other_bill): "1"}, 422, "not paid by this payment"),
        ("no such bill", {"amount-0123456789abcdef0123456789abcdef": "1"}, 422, "not paid by"),
        (
            "a stale refundable amount",
            {field(tax): "1", "seen_refundable": "229.32"},
            409,
            "The refundable amount changed meanwhile",
        ),
        ("no reason", {field(tax): "1", "reason": " "}, 422, "Give a reason for the refund."),
    ]


def test_refusals_are_clear_and_change_nothing(signed_in, paid, dbsession, provider, caplog):
    app = signed_in("clerk-clara")
    other_bill = factories.bill(dbsession, paid.bills.payer, 5_00)
    dbsession.commit()
    token = csrf_token(app)
    before = snapshot(dbsession, provider, paid)
    for name, fields, status, message in refusals(paid, other_bill):
        for step in ("/refunds/confirm", "/refunds"):
            caplog.clear()
            posted = {"csrf_token": token, "seen_refundable": "229.33", "reason": REASON}
            with caplog.at_level(logging.WARNING, logger="portal.billing.backoffice.refunds"):
                refused = app.post(
                    url(paid.payment, step),
                    {**posted, **fields},
                    headers={"Referer": f"https://localhost{url(paid.payment)}"},
                    status=status,
                )
            assert message in refused.text, (name, step)
            assert "There is a problem" in refused.text, (name, step)
            assert f"refund of payment {paid.payment.public_id} refused ({status})" in caplog.text
            assert snapshot(dbsession, provider, paid) == before, (name, step)
    assert statuses(dbsession, paid) == ["paid", "paid", "paid"]


def test_a_confirmation_made_stale_by_another_refund_is_refused(
    signed_in, paid, dbsession, provider
):
    water, tax, _ = paid.bills.bills
    app = signed_in("clerk-clara")
    stale = choose(app, paid.payment, {water: "21"}).submit(status=200).forms["confirm-form"]
    choose(app, paid.payment, {tax: "6.30"}, "Rounding").submit(status=200).forms[
        "confirm-form"
    ].submit(status=303)
    after_first = snapshot(dbsession, provider, paid)
    refused = stale.submit(status=409)
    assert "The refundable amount changed meanwhile" in refused.text
    assert refused.forms["refund-form"][field(water)].value == "21.00"
    assert snapshot(dbsession, provider, paid) == after_first
    assert statuses(dbsession, paid) == ["paid", "partly_paid", "paid"]


def test_change_goes_back_to_the_choice_with_what_was_typed(signed_in, paid, dbsession, provider):
    water, tax, _ = paid.bills.bills
    before = snapshot(dbsession, provider, paid)
    app = signed_in("clerk-clara")
    confirm = choose(app, paid.payment, {water: "4.5"}).submit(status=200)
    back = confirm.forms["change-form"].submit("change", status=200)
    form = back.forms["refund-form"]
    assert (form[field(water)].value, form[field(tax)].value) == ("4.50", "")
    assert form["reason"].value == REASON
    assert snapshot(dbsession, provider, paid) == before


def test_a_refund_not_yet_confirmed_holds_its_bills_share(
    signed_in, paid, dbsession, provider, wsgi_app
):
    """Asked for but not yet sent to the provider, a refund already counts against its bills."""
    from portal.billing.payments import record_refund
    from portal.tasks import task_dbsession

    water, tax, _ = paid.bills.bills
    with task_dbsession(wsgi_app.registry) as session:
        payment = session.get(Payment, paid.payment.id)
        record_refund(session, payment, {water.id: Money(15_00, "EUR")}, payment.refundable, "x")
    app = signed_in("clerk-clara")
    page = app.get(url(paid.payment))
    assert "At most €6.00" in page.text
    refused = choose(app, paid.payment, {water: "6.01"}).submit(status=422)
    assert "more than this payment can still give back on it" in refused.text
    assert statuses(dbsession, paid) == ["paid", "paid", "paid"]  # nothing posted yet
