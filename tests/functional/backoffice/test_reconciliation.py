"""Reconciliation of a day's settlement report (from a sandbox of the test's own, so the report
holds only what the test paid) against the portal's payments, refunds and ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from pyramid.scripting import prepare
from sqlalchemy import select

from portal.billing import payments, reconcile
from portal.billing.models import Refund
from portal.billing.payments import post_refund, send_refund
from portal.billing.providers import ProviderPayment
from portal.cases.models import Case
from portal.clock import clock as app_clock
from portal.localized import message_in
from portal.money import Money
from portal.scripts import reconcile as script
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.backoffice.conftest import managed, settle


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def record_refund(payment, minor: int) -> str:
    """A refund recorded in the portal (not yet sent); its reference."""
    with task_dbsession(factories.app_registry(payment)) as session:
        payment = managed(session, payment)
        bill_id = payment.allocations[0].bill_id
        made = payments.record_refund(
            session, payment, {bill_id: Money(minor, "EUR")}, payment.refundable, "Reconciliation"
        )
        return made.public_id


def the_refund(session, reference: str) -> Refund:
    return session.scalar(select(Refund).where(Refund.public_id == reference))


def refund(provider, payment, minor: int) -> str:
    """A refund recorded, sent to the provider and posted, as the refund task does."""
    reference = record_refund(payment, minor)
    registry = factories.app_registry(payment)
    with task_dbsession(registry) as session:
        send_refund(session, the_refund(session, reference), provider, app_clock(registry).now())
    return reference


@pytest.fixture
def consistent_day(own_payments, own_provider, dbsession):
    """A payment and a partial refund of it, the same at the provider and in the portal."""
    payment = own_payments.settled(amount=12_50)
    refund(own_provider, payment, 2_00)
    return payment


@pytest.fixture
def inconsistent_day(own_payments, own_provider, own_sandbox, dbsession, consistent_day):
    """Beside the consistent payment, one of each kind of discrepancy."""
    made = {}
    # paid at the provider, still waiting in the portal
    made["not_settled_here"] = own_payments.paid_at_provider(amount=15_00)
    # paid at the provider with a reference the portal never issued
    stranger = own_sandbox.new_payment(reference=f"stranger-{uuid.uuid4().hex[:8]}", amount=9_99)
    assert own_sandbox.pay(stranger).status_code == 303
    made["stranger"] = stranger["reference"]
    # settled in the portal, never at the provider
    ghost = own_payments.unpaid(amount=7_00)
    report = ProviderPayment(
        "psp-ghost",
        ghost.public_id,
        "succeeded",
        ghost.amount,
        Money(0, "EUR"),
        "Visa •••• 4242",
        None,
    )
    settle(own_provider, ghost, report)
    made["ghost"] = ghost
    # the provider took more than the portal asked for
    greedy = own_payments.unpaid(amount=20_00)
    started = own_provider.start_payment(
        greedy.public_id,
        Money(21_00, "EUR"),
        "Payment",
        "https://localhost/r",
        own_sandbox.receiver.url,
    )
    assert own_sandbox.pay({"hosted_url": started.hosted_url}).status_code == 303
    greedy.provider_payment_id = started.provider_payment_id
    dbsession.commit()
    report = own_provider.query_payment(greedy.public_id)
    settle(own_provider, greedy, dataclasses.replace(report, amount=greedy.amount))
    made["greedy"] = greedy
    # the provider refunded more than the portal recorded
    generous = own_payments.settled(amount=10_00)
    reference = record_refund(generous, 2_00)
    own_provider.refund(generous.provider_payment_id, Money(3_00, "EUR"), reference)
    registry = factories.app_registry(generous)
    with task_dbsession(registry) as session:
        post_refund(session, the_refund(session, reference), app_clock(registry).now())
    made["generous_refund"] = reference
    return made


def test_a_consistent_day_is_clean(consistent_day, own_provider, dbsession):
    result = reconcile(dbsession, own_provider, today())
    assert result.clean
    assert result.matched == 2
    fee = 18 + 20  # 1.4 % of 12.50 rounded half up, plus 20 cents
    assert result.totals() == {
        "EUR": {
            "payments": Money(12_50, "EUR"),
            "refunds": Money(2_00, "EUR"),
            "fees": Money(fee, "EUR"),
            "net": Money(12_50 - 2_00 - fee, "EUR"),
        }
    }


def test_discrepancies_are_found(inconsistent_day, own_provider, dbsession):
    made = inconsistent_day
    result = reconcile(dbsession, own_provider, today())
    assert not result.clean
    assert result.matched == 3  # the consistent payment and refund, and the generous payment
    assert sorted((d.what, d.reference, d.provider_amount) for d in result.missing_in_portal) == (
        sorted(
            [
                ("payment", made["not_settled_here"].public_id, Money(15_00, "EUR")),
                ("payment", made["stranger"], Money(9_99, "EUR")),
            ]
        )
    )
    assert [(d.what, d.reference, d.portal_amount) for d in result.missing_in_report] == [
        ("payment", made["ghost"].public_id, Money(7_00, "EUR"))
    ]
    assert sorted(
        (d.what, d.reference, d.provider_amount, d.portal_amount) for d in result.amount_differences
    ) == sorted(
        [
            ("payment", made["greedy"].public_id, Money(21_00, "EUR"), Money(20_00, "EUR")),
            ("refund", made["generous_refund"], Money(3_00, "EUR"), Money(2_00, "EUR")),
        ]
    )


def test_a_refund_the_portal_has_not_confirmed_is_missing_in_the_portal(
    own_payments, own_provider, dbsession
):
    payment = own_payments.settled(amount=12_50)
    reference = record_refund(payment, 1_00)
    own_provider.refund(payment.provider_payment_id, Money(1_00, "EUR"), reference)
    result = reconcile(dbsession, own_provider, today())
    assert [(d.what, d.reference) for d in result.discrepancies] == [("refund", reference)]
    assert (
        message_in("en", result.missing_in_portal[0].detail)
        == "refunded by the provider; in the portal: Sent to the provider"
    )


def test_another_day_does_not_see_todays_payments(consistent_day, own_provider, dbsession):
    result = reconcile(dbsession, own_provider, today() - dt.timedelta(days=2))
    assert result.clean and result.lines == [] and result.matched == 0


def test_settled_here_just_after_midnight_is_found_in_the_previous_days_report(
    own_payments, own_provider, dbsession, clock
):
    """The portal learns of a settlement after the provider made it, possibly the next day."""
    payment = own_payments.paid_at_provider(amount=12_50)
    clock.set(dt.datetime.combine(today() + dt.timedelta(days=1), dt.time(0, 0, 5), dt.UTC))
    settle(own_provider, payment, now=clock.now())
    assert reconcile(dbsession, own_provider, today() + dt.timedelta(days=1)).clean


@pytest.fixture
def portal_uses_own_provider(monkeypatch, wsgi_app, own_provider):
    monkeypatch.setitem(wsgi_app.registry, "payment_provider", own_provider)


def test_the_page_shows_the_discrepancies(inconsistent_day, portal_uses_own_provider, signed_in):
    page = signed_in("admin-ada").get(
        "/backoffice/reconciliation", params={"date": today().isoformat()}
    )
    assert "5 discrepancies" in page.text
    missing_here = page.text.split('id="missing_in_portal"')[1].split("</section>")[0]
    assert inconsistent_day["not_settled_here"].public_id in missing_here
    assert inconsistent_day["stranger"] in missing_here
    missing_there = page.text.split('id="missing_in_report"')[1].split("</section>")[0]
    assert inconsistent_day["ghost"].public_id in missing_there
    differs = page.text.split('id="amount_differs"')[1].split("</section>")[0]
    assert inconsistent_day["greedy"].public_id in differs and "€21.00" in differs


def test_the_page_says_when_a_day_is_clean(consistent_day, portal_uses_own_provider, signed_in):
    page = signed_in("clerk-clara").get(
        "/backoffice/reconciliation", params={"date": today().isoformat()}
    )
    assert "No discrepancies" in page.text and "2 lines matched" in page.text


def test_the_page_is_for_clerks_and_administrators(signed_in):
    app = signed_in("citizen-ana")
    app.get("/backoffice/reconciliation", status=403)


@pytest.mark.parametrize("day", ["31/12", "0001-01-01", "9999-12-31", "2026-02-30"])
def test_the_page_refuses_a_malformed_or_unreachable_date(signed_in, day):
    """The page links the day before and after: at the calendar's ends there is none."""
    signed_in("clerk-clara").get("/backoffice/reconciliation", params={"date": day}, status=400)


@pytest.fixture
def script_env(monkeypatch, wsgi_app):
    """The script bootstraps the running portal's registry instead of reading an ini file."""
    monkeypatch.setattr(script, "bootstrap", lambda uri: prepare(registry=wsgi_app.registry))
    monkeypatch.setattr(script, "setup_logging", lambda uri: None)


def test_the_script_exits_non_zero_on_discrepancies(
    inconsistent_day, portal_uses_own_provider, script_env, capsys
):
    assert script.main(["portal.ini", "--date", today().isoformat()]) == 1
    out = capsys.readouterr().out
    assert inconsistent_day["ghost"].public_id in out
    assert "5 discrepancies." in out


def test_each_discrepancy_the_script_finds_is_one_case_in_the_work_queue(
    inconsistent_day, portal_uses_own_provider, script_env, dbsession
):
    """The scheduled run opens the cases; a second run of the same day opens no more."""
    for _run in range(2):
        assert script.main(["portal.ini", "--date", today().isoformat()]) == 1
    cases = dbsession.scalars(select(Case).where(Case.kind == "settlement_discrepancy")).all()
    assert len(cases) == 5
    ghost = inconsistent_day["ghost"].public_id
    (about_ghost,) = [case for case in cases if ghost in case.subject_id]
    assert about_ghost.department.code == "revenue" and about_ghost.state == "received"


def test_the_script_exits_zero_on_a_clean_day(
    consistent_day, portal_uses_own_provider, script_env, capsys
):
    assert script.main(["portal.ini", "--date", today().isoformat()]) == 0
    assert "No discrepancies." in capsys.readouterr().out


def test_the_script_refuses_a_malformed_date(script_env):
    with pytest.raises(SystemExit) as exited:
        script.main(["portal.ini", "--date", "yesterday"])
    assert exited.value.code == 2


def in_portal_time(value: dt.datetime) -> str:
    """``value`` as a person in the portal's zone (the tests' Europe/Ljubljana) reads it."""
    return format_datetime(value, tzinfo=ZoneInfo("Europe/Ljubljana"), locale="en")


def test_the_page_shows_times_in_the_portals_time_zone(
    inconsistent_day, portal_uses_own_provider, own_provider, signed_in
):
    day = today()
    # an administrator: the stranger's payment belongs to no department
    page = signed_in("admin-ada").get(
        "/backoffice/reconciliation", params={"date": day.isoformat()}
    )
    midnight_utc = dt.datetime.combine(day, dt.time(), dt.UTC)
    span = page.html.find(id="span").text
    assert in_portal_time(midnight_utc) in span
    assert in_portal_time(midnight_utc + dt.timedelta(days=1)) in span
    # Ljubljana is never at UTC: the UTC reading of midnight is not what is shown
    assert format_datetime(midnight_utc, tzinfo=dt.UTC, locale="en") not in span
    (stranger,) = [
        line
        for line in own_provider.settlement_report(day)
        if line.reference == inconsistent_day["stranger"]
    ]
    row = next(
        tr for tr in page.html.select("#missing_in_portal tr") if stranger.reference in tr.text
    )
    assert in_portal_time(stranger.settled_at) in row.text


def test_the_day_is_chosen_in_three_boxes(signed_in):
    app = signed_in("clerk-clara")
    page = app.get("/backoffice/reconciliation")
    assert 'type="date"' not in page.text
    form = page.forms["day-form"]
    yesterday = today() - dt.timedelta(days=1)
    assert form["date-day"].value == f"{yesterday.day:02d}"
    form["date-day"], form["date-month"], form["date-year"] = "1", "3", "2026"
    shown = form.submit()
    assert "Reconciliation of March 1, 2026" in shown.text


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [("30", "2", "2026"), ("1", "13", "2026"), ("x", "3", "2026"), ("1", "3", "26"), ("", "3", "")],
)
def test_a_day_that_is_not_a_date_is_refused_plainly(signed_in, day, month, year):
    page = signed_in("clerk-clara").get(
        "/backoffice/reconciliation",
        params={"date-day": day, "date-month": month, "date-year": year},
        status=400,
    )
    assert "Enter a real date: the day, the month and the year in four digits" in page.text


def test_a_clerk_reconciles_the_payments_to_their_own_departments(
    own_payments, own_provider, dbsession
):
    """Clara works for the revenue office (property tax), Dan for the registry (vehicles)."""
    revenue = own_payments.settled(amount=12_50)
    registry = own_payments.settled(amount=45_00, service_code="vehicle-registration")
    refund(own_provider, registry, 5_00)
    payer = factories.user(dbsession, "citizen-ben")
    both = [
        factories.bill(dbsession, payer, 10_00),
        factories.bill(dbsession, payer, 20_00, service_code="vehicle-registration"),
    ]
    dbsession.commit()
    mixed = own_payments.settled_for(both, payer)
    revenue_id = frozenset({factories.department(dbsession, "revenue").id})
    registry_id = frozenset({factories.department(dbsession, "registry").id})

    for_revenue = reconcile(dbsession, own_provider, today(), revenue_id)
    assert sorted(line.reference for line in for_revenue.lines) == sorted(
        [revenue.public_id, mixed.public_id]
    )
    assert for_revenue.clean and for_revenue.matched == 2
    assert for_revenue.totals()["EUR"]["payments"] == Money(12_50 + 30_00, "EUR")

    for_registry = reconcile(dbsession, own_provider, today(), registry_id)
    assert {line.kind for line in for_registry.lines} == {"payment", "refund"}
    assert for_registry.clean and for_registry.matched == 3  # its payment, refund, the mixed one
    assert for_registry.totals()["EUR"]["refunds"] == Money(5_00, "EUR")

    everything = reconcile(dbsession, own_provider, today())
    assert everything.matched == 4


def test_a_clerk_sees_only_their_departments_discrepancies(
    inconsistent_day, portal_uses_own_provider, signed_in
):
    """Every payment of the inconsistent day is the revenue office's; the stranger's payment,
    which the portal cannot place, is for administrators only."""
    clara = signed_in("clerk-clara").get(
        "/backoffice/reconciliation", params={"date": today().isoformat()}
    )
    assert "4 discrepancies" in clara.text
    assert inconsistent_day["ghost"].public_id in clara.text
    assert inconsistent_day["stranger"] not in clara.text
    assert "Only the payments to your departments" in clara.text
    dan = signed_in("clerk-dan").get(
        "/backoffice/reconciliation", params={"date": today().isoformat()}
    )
    assert "No discrepancies" in dan.text and "0 lines matched" in dan.text
    assert inconsistent_day["ghost"].public_id not in dan.text
