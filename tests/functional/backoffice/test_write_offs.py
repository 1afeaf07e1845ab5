"""Writing off a bill: what is still owed moves to the service's write-off account, the bill
shows written off (in Python and in SQL) and the ledger balances; above the threshold nothing
is posted until a second clerk of the department approves."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import func, select

from portal.audit import redact_person
from portal.audit.models import AuditEntry
from portal.billing import apply_report, ledger, state
from portal.billing.bills import OVERPAID, WRITTEN_OFF, status_condition, with_status
from portal.billing.models import ApprovalRequest, Bill, JournalEntry, JournalTransaction, Payment
from portal.cases.models import Case
from portal.clock import clock
from portal.identity.language_choice import COOKIE_NAME
from portal.tasks import task_dbsession
from tests import factories
from tests.conftest import sign_in
from tests.error_summary import assert_error_summary
from tests.functional.backoffice.conftest import csrf_token, managed

REASON = "The company was struck off the register"


@pytest.fixture
def browser(wsgi_app, devidp, departments):
    def make(persona: str) -> webtest.TestApp:
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert sign_in(app, devidp, persona).status_int == 303
        return app

    return make


@pytest.fixture
def open_bill(dbsession, departments) -> Bill:
    payer = factories.user(dbsession, "citizen-ben")
    bill = factories.bill(dbsession, payer, amount=40_00)
    dbsession.commit()
    return bill


def find(app, bill: Bill):
    page = app.get("/backoffice/departments/revenue").click(href="/write-off")
    form = page.forms["find-bill"]
    form["q"] = bill.number
    return form.submit(status=200)


def ledger_sums_to_zero(dbsession) -> bool:
    return dbsession.scalar(select(func.sum(JournalEntry.amount_minor))) == 0


def shows(dbsession, bill: Bill, status: str) -> bool:
    """Whether ``bill`` shows ``status`` as the pages (Python) and the bill lists (SQL) both
    read it (the two must agree)."""
    dbsession.expire_all()
    bill = dbsession.get(Bill, bill.id)
    in_sql = dbsession.scalar(select(Bill.id).where(Bill.id == bill.id, status_condition(status)))
    in_python = with_status(dbsession, [bill])[0].status == status
    assert in_python == (in_sql is not None)
    return in_python


def written_off(dbsession, bill: Bill) -> bool:
    return shows(dbsession, bill, WRITTEN_OFF)


def test_within_the_threshold_a_clerk_writes_a_bill_off_at_once(
    browser, open_bill, dbsession, departments
):
    clara = browser("clerk-clara")
    page = find(clara, open_bill)
    assert "€40.00" in page.html.find(id="owed").text
    form = page.forms["write-off-form"]
    form["reason"] = REASON
    done = form.submit(status=303).follow()
    assert "Written off. The payer owes nothing more on this bill." in done.text
    assert "Written off" in done.html.find(id="bill-status").text
    assert "write-off-form" not in done.forms

    assert written_off(dbsession, open_bill)
    assert ledger.bill_balances(dbsession, [open_bill.id]) == {open_bill.id: 0}
    assert ledger.account_balance(dbsession, "write-off:property-tax") == {"EUR": 40_00}
    assert ledger.account_balance(dbsession, "revenue:property-tax") == {"EUR": -40_00}
    assert ledger_sums_to_zero(dbsession)
    assert dbsession.get(Bill, open_bill.id).write_off_reason == REASON
    # a second write-off is refused, and changes nothing
    refused = clara.post(
        f"/backoffice/bills/{open_bill.public_id}/write-off",
        {"csrf_token": csrf_token(clara), "reason": "again"},
        headers={"Referer": "https://localhost/"},
        status=409,
    )
    assert "This bill was already written off." in refused.text
    assert ledger.account_balance(dbsession, "write-off:property-tax") == {"EUR": 40_00}


def test_above_the_threshold_nothing_is_posted_until_a_second_clerk_approves(
    wsgi_app, monkeypatch, browser, open_bill, dbsession
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )
    clara = browser("clerk-clara")
    form = find(clara, open_bill).forms["write-off-form"]
    form["reason"] = REASON
    done = form.submit(status=303).follow()
    assert "A second clerk of the department must approve it" in done.text
    assert done.html.find(id="write-off-pending") is not None
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    assert (approval.kind, approval.amount_minor, approval.subject) == (
        "write_off",
        40_00,
        open_bill.public_id,
    )
    assert not written_off(dbsession, open_bill)
    assert ledger.account_balance(dbsession, "write-off:property-tax") == {}
    clara.post(
        f"/backoffice/approvals/{approval.public_id}/approve",
        {"csrf_token": csrf_token(clara)},
        headers={"Referer": "https://localhost/"},
        status=403,
    )
    assert not written_off(dbsession, open_bill)

    eva = browser("clerk-eva")
    page = eva.get(f"/backoffice/approvals/{approval.public_id}")
    assert REASON in page.text
    page.forms["approve-form"].submit(status=303)
    assert written_off(dbsession, open_bill)
    assert ledger.account_balance(dbsession, "write-off:property-tax") == {"EUR": 40_00}
    assert ledger_sums_to_zero(dbsession)
    actions = dbsession.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    about_the_write_off = [a for a in actions if a.startswith(("approval.", "bill."))]
    assert about_the_write_off[-3:] == [
        "approval.requested",
        "approval.approved",
        "bill.written_off",
    ]
    assert "case.decided" in actions  # the work queue's case ended with the decision


def test_the_request_reads_in_the_approving_clerks_language(
    wsgi_app, monkeypatch, browser, open_bill, dbsession
):
    """The request says which bill in French to a clerk who reads French, on the list, the
    request's page and the work queue's case; the record stays in the default language."""
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )
    form = find(browser("clerk-clara"), open_bill).forms["write-off-form"]
    form["reason"] = REASON
    form.submit(status=303)
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    bill = f"{open_bill.service.code}/{open_bill.number}"
    assert approval.description == f"Write-off of bill {bill}"

    eva = browser("clerk-eva")
    eva.set_cookie(COOKIE_NAME, "fr")
    french = f"Admission en non-valeur de la facture {bill}"
    assert french in eva.get("/backoffice/approvals").html.find(id="awaiting").text
    page = eva.get(f"/backoffice/approvals/{approval.public_id}")
    assert french in page.text and "Write-off of bill" not in page.text
    case = dbsession.scalars(select(Case).where(Case.kind == "approval")).one()
    assert french in eva.get(f"/backoffice/cases/{case.public_id}").html.find("h1").text
    eva.set_cookie(COOKIE_NAME, "en")
    assert f"Write-off of bill {bill}" in eva.get(f"/backoffice/approvals/{approval.public_id}")


def test_a_write_off_with_no_reason_is_shown_again_with_the_error_by_its_field(
    browser, open_bill, dbsession
):
    """No reason, or one too long: the bill's page again, the summary linking to the reason,
    what was typed kept, and nothing written off or asked for."""
    journal = select(func.count()).select_from(JournalTransaction)
    posted = dbsession.scalar(journal)
    clara = browser("clerk-clara")
    form = find(clara, open_bill).forms["write-off-form"]
    form["reason"] = "   "
    page = form.submit(status=422)
    assert_error_summary(page, ["reason"])
    assert "Give the reason for writing the bill off." in page.html.find(id="form-errors").text
    assert "€40.00" in page.html.find(id="owed").text

    form = page.forms["write-off-form"]
    form["reason"] = "x" * 2001
    page = form.submit(status=422)
    assert_error_summary(page, ["reason"])
    assert "Keep the reason under 2000 characters." in page.html.find(id="reason-error").text
    assert page.html.find(id="reason").text == "x" * 2001

    assert not written_off(dbsession, open_bill)
    assert dbsession.scalar(select(func.count()).select_from(ApprovalRequest)) == 0
    assert dbsession.scalar(journal) == posted


def test_a_clerk_of_another_department_cannot_write_off(browser, open_bill, dbsession):
    dan = browser("clerk-dan")
    dan.post(
        f"/backoffice/bills/{open_bill.public_id}/write-off",
        {"csrf_token": csrf_token(dan), "reason": REASON},
        headers={"Referer": "https://localhost/"},
        status=403,
    )
    assert not written_off(dbsession, open_bill)


def write_off_through_the_page(app, bill: Bill, status: int):
    return app.post(
        f"/backoffice/bills/{bill.public_id}/write-off",
        {"csrf_token": csrf_token(app), "reason": REASON},
        headers={"Referer": "https://localhost/"},
        status=status,
    )


def test_a_bill_being_paid_cannot_be_written_off(browser, payments, dbsession, caplog):
    payment = payments.paid_at_provider(amount=40_00)
    bill = payment.allocations[0].bill
    assert payment.status in state.IN_PROGRESS  # the payer is on the provider's page
    refused = write_off_through_the_page(browser("clerk-clara"), bill, 409)
    assert "The payer is paying this bill right now." in refused.text
    assert "refused 409 conflict: The payer is paying this bill right now." in caplog.text
    assert not written_off(dbsession, bill)
    assert dbsession.get(Bill, bill.id).written_off_at is None
    assert ledger.account_balance(dbsession, "write-off:property-tax") == {}
    assert dbsession.scalars(select(ApprovalRequest)).all() == []


def test_money_landing_on_a_written_off_bill_shows_it_overpaid(
    browser, payments, provider, dbsession
):
    """A payment that expired in the portal, the bill written off, and then the provider
    reports the payment succeeded after all: until it is given back the money shows as
    overpaid, in Python and in SQL alike, not hidden under "written off"."""
    payment = payments.paid_at_provider(amount=40_00)
    bill = payment.allocations[0].bill
    registry = factories.app_registry(payment)
    with task_dbsession(registry) as session:
        state.transition(
            managed(session, payment), state.EXPIRED, "not finished in time", clock(registry).now()
        )
    write_off_through_the_page(browser("clerk-clara"), bill, 303)
    assert written_off(dbsession, bill)

    with task_dbsession(registry) as session:
        report = provider.query_payment(payment.public_id)
        apply_report(session, managed(session, payment), report, "test", clock(registry).now())
        assert ledger.bill_balances(session, [bill.id]) == {bill.id: -40_00}
        assert shows(session, bill, OVERPAID)
        assert not shows(session, bill, WRITTEN_OFF)
    # the portal gives the overpayment back once that commits: nothing owed, nothing over
    dbsession.expire_all()
    assert dbsession.get(Payment, payment.id).status == state.REFUNDED
    assert written_off(dbsession, bill)


def test_a_write_off_is_about_its_payer_and_its_reason_stays_out_of_the_ledger(
    wsgi_app, monkeypatch, browser, open_bill, dbsession
):
    """The request, its approval and the write-off are audited as about the payer, so that
    the payer's erasure redacts the reason the clerks typed (free text that may name people);
    the append-only journal never holds it."""
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )
    form = find(browser("clerk-clara"), open_bill).forms["write-off-form"]
    form["reason"] = REASON
    form.submit(status=303)
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    eva = browser("clerk-eva")
    page = eva.get(f"/backoffice/approvals/{approval.public_id}")
    page.forms["approve-form"]["note"] = f"Agreed: {REASON}"
    page.forms["approve-form"].submit(status=303)
    assert written_off(dbsession, open_bill)

    payer = open_bill.payer_user_id
    about = [
        (entry.action, entry.subject_id)
        for entry in dbsession.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        if entry.action.startswith(("approval.", "bill."))
    ]
    assert about == [
        ("approval.requested", payer),
        ("approval.approved", payer),
        ("bill.written_off", payer),
    ]
    descriptions = dbsession.scalars(select(JournalTransaction.description)).all()
    assert "Written off: bill property-tax/" in " ".join(descriptions)
    assert not [d for d in descriptions if REASON in d]

    assert redact_person(dbsession, payer) == 3
    dbsession.commit()
    assert not [
        e.personal for e in dbsession.scalars(select(AuditEntry)) if REASON in str(e.personal)
    ]
