"""Refunds of payments that came by bank transfer, as a finance office makes them: the surplus
of an overpaying transfer is the payer's credit, which a clerk refunds to the account it came
from; refunds waiting are exported in an ISO 20022 pain.001 file for the bank, and complete
when the bank statement shows their debit, or when a clerk confirms them. No refund of a bank
payment is ever sent to a card provider."""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest
from lxml import etree
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.billing import ledger
from portal.billing.bills import with_status
from portal.billing.models import ApprovalRequest, Payment, Refund, RefundTransferFile
from portal.identity.models import Organisation
from portal.receipts.models import CreditNote, Receipt
from tests import factories
from tests.bank_files import Credit, camt
from tests.conftest import sign_in
from tests.error_summary import assert_error_summary
from tests.functional.backoffice.conftest import refund_form
from tests.functional.cases.conftest import post

STATEMENTS = "/backoffice/departments/revenue/bank-statements"
REFUNDS = "/backoffice/departments/revenue/bank-refunds"
PAYER_IBAN = "SI56191000000123438"
OTHER_IBAN = "SI56020170014356205"
PAIN = etree.XMLSchema(
    etree.parse(str(Path(__file__).parents[2] / "iso20022" / "pain.001.001.03.xsd"))
)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


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
def sent_refunds(monkeypatch):
    """The refunds queued for a provider (a bank payment's never are)."""
    import portal.billing.tasks as tasks

    queued: list[int] = []
    real = tasks.enqueue_after_commit

    def enqueue(target, task, *args):
        if task is tasks.send_refund_task:
            queued.extend(args)
        return real(target, task, *args)

    monkeypatch.setattr(tasks, "enqueue_after_commit", enqueue)
    return queued


@pytest.fixture
def clara(browser):
    return browser("clerk-clara")


@pytest.fixture
def ana(dbsession, browser):
    return factories.user(dbsession, "citizen-ana")


def upload(app, data: bytes):
    return post(app, STATEMENTS, upload_files=[("file", "statement.xml", data)], status=303)


def overpaid_bill(dbsession, clerk, payer=None, organisation=None, statement="STMT-O"):
    """A bill of 10.00 paid 15.00 by a transfer from ``PAYER_IBAN``: 5.00 is the credit."""
    bill = factories.bill(dbsession, payer, amount=10_00, organisation=organisation)
    dbsession.commit()
    credit = Credit("15.00", reference=bill.reference, servicer_reference=f"{statement}-1")
    credit.debtor_iban, credit.name = PAYER_IBAN, "Ana Novak"
    upload(clerk, camt("053", statement, [credit]))
    dbsession.expire_all()
    payment = dbsession.scalar(select(Payment).where(Payment.provider == "bank"))
    return bill, payment


def owed(dbsession, bill) -> int:
    dbsession.expire_all()
    return with_status(dbsession, [bill])[0].outstanding.minor


def audited(dbsession, action: str) -> int:
    return dbsession.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def test_an_overpayments_credit_goes_back_to_the_account_it_came_from(
    clara, ana, browser, dbsession, sent_refunds
):
    bill, payment = overpaid_bill(dbsession, clara, ana)
    assert owed(dbsession, bill) == -5_00

    # the payer view lists the credit; its link fills in the refund of exactly that
    payer_page = clara.get(f"/backoffice/payers/people/{ana.id}")
    credits = payer_page.html.find(id="credits")
    assert "€5.00" in credits.text
    page = clara.get(credits.find("a")["href"])
    form = page.forms["refund-form"]
    assert form[f"amount-{bill.public_id}"].value == "5.00"
    assert form["iban"].value == PAYER_IBAN
    assert "SI56 1910 0000 0123 438" in page.html.find(id="origin-account").text
    form["reason"] = "Paid more than the bill"
    confirm = form.submit(status=200)
    assert "SI56 1910 0000 0123 438" in confirm.html.find(id="refund-account").text
    done = confirm.forms["confirm-form"].submit(status=303).follow()
    assert "goes in the next credit-transfer file" in done.text

    refund = dbsession.scalars(select(Refund)).one()
    assert (refund.status, refund.amount_minor, refund.creditor_iban) == (
        "to_transfer",
        5_00,
        PAYER_IBAN,
    )
    assert sent_refunds == []  # nothing goes to a card provider
    assert owed(dbsession, bill) == -5_00  # nothing is posted before the money leaves

    # the payer sees their credit and where its refund stands
    citizen = browser("citizen-ana")
    mine = citizen.get(f"/payments/{payment.public_id}")
    assert "Your credit" in mine.text and "To be sent to the bank" in mine.text
    assert "Your credit: €5.00" in citizen.get(f"/bills/{bill.public_id}/transfer").text

    # the clerk exports the file for the bank: valid pain.001, the refund in it, sent
    refunds_page = clara.get(REFUNDS)
    assert "€5.00" in refunds_page.html.find(id="waiting").text
    made = refunds_page.forms["export-form"].submit(status=303).follow()
    assert "Credit-transfer file PORTAL-REFUNDS-" in made.text
    transfer_file = dbsession.scalars(select(RefundTransferFile)).one()
    download = clara.get(f"/backoffice/refund-transfer-files/{transfer_file.public_id}.xml")
    assert download.content_type == "application/xml"
    document = etree.fromstring(download.body)
    assert PAIN.validate(document), PAIN.error_log
    assert document.findtext(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", namespaces=NS) == (
        refund.public_id
    )
    assert document.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == PAYER_IBAN
    assert document.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == ("SI56263300012039086")
    assert document.find(".//p:InstdAmt", namespaces=NS).text == "5.00"
    assert clara.get(REFUNDS).forms.get("export-form") is None  # nothing left to export
    dbsession.expire_all()
    assert refund.status == "sent"
    assert "Sent to the bank" in citizen.get(f"/payments/{payment.public_id}").text

    # the statement shows the debit: the refund completes and is posted
    debit = Credit("5.00", debit=True, end_to_end=refund.public_id, servicer_reference="D-1")
    page = upload(clara, camt("053", "STMT-D", [debit])).follow()
    assert "1 refunds by bank transfer are on the statement" in page.text
    dbsession.expire_all()
    assert refund.status == "succeeded"
    assert owed(dbsession, bill) == 0
    assert ledger.account_balance(dbsession, "clearing:bank") == {"EUR": 10_00}
    assert dbsession.scalars(select(CreditNote)).one().refund_id == refund.id
    # the same debit in another file completes nothing twice
    upload(clara, camt("054", "NTF-D", [debit], version="08"))
    assert ledger.account_balance(dbsession, "clearing:bank") == {"EUR": 10_00}
    for action in (
        "refund.requested",
        "refund.sent",
        "refund_transfer_file.created",
        "refund_transfer_file.downloaded",
        "refund.succeeded",
    ):
        assert audited(dbsession, action) == 1, action


def test_another_account_needs_a_reason_and_a_second_clerk(clara, ana, browser, dbsession):
    bill, payment = overpaid_bill(dbsession, clara, ana)
    form = refund_form(clara, payment, {bill: "5.00"}, "Account closed")
    form["iban"] = OTHER_IBAN
    refused = form.submit(status=422)
    assert "Say why the refund goes to another account" in refused.text
    form = refused.forms["refund-form"]
    assert form["iban"].value == OTHER_IBAN
    form["iban"] = "SI56 0201 7001 4356 206"  # a typing mistake
    form["account_reason"] = "The payer's letter of 4 December"
    assert "not a valid IBAN" in form.submit(status=422).text
    form = refund_form(clara, payment, {bill: "5.00"}, "Account closed")
    form["iban"], form["account_reason"] = OTHER_IBAN, "The payer's letter of 4 December"
    confirm = form.submit(status=200)
    assert "another account than the money came from needs a second clerk" in confirm.text
    confirm.forms["confirm-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    assert (refund.status, refund.creditor_iban) == ("awaiting_approval", OTHER_IBAN)
    assert audited(dbsession, "refund.account_changed") == 1
    entry = dbsession.scalars(
        select(AuditEntry).where(AuditEntry.action == "refund.account_changed")
    ).one()
    assert OTHER_IBAN not in str(entry.details)  # the account is personal data, kept apart

    eva = browser("clerk-eva")
    approval = eva.get("/backoffice/approvals").click(href="/backoffice/approvals/")
    approval.forms["approve-form"].submit(status=303)
    dbsession.expire_all()
    assert refund.status == "to_transfer"


def send_to(clerk, payment, refund_id: str, iban: str, reason: str):
    """The payment page after ``clerk`` sent the refund to ``iban`` with its row's form."""
    page = clerk.get(f"/backoffice/payments/{payment.public_id}")
    account = page.forms[f"account-form-{refund_id}"]
    account["iban"], account["reason"] = iban, reason
    return account.submit(status=303).follow()


def test_sending_a_waiting_refund_to_another_account_needs_a_second_clerk(
    clara, ana, browser, dbsession
):
    """A refund made to the account the money came from needs no second clerk (within the
    threshold); sending it to another account afterwards does, as making it so would: else
    one clerk could divert it. Back to the account of origin, it needs none."""
    bill, payment = overpaid_bill(dbsession, clara, ana)
    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    rid = refund.public_id
    assert refund.status == "to_transfer"

    page = send_to(clara, payment, rid, OTHER_IBAN, "The payer's letter of 4 December")
    assert "once a second clerk of the department approves it" in page.text
    dbsession.expire_all()
    assert (refund.status, refund.creditor_iban) == ("awaiting_approval", OTHER_IBAN)
    assert clara.get(REFUNDS).forms.get("export-form") is None  # not in any file yet
    assert f"account-form-{rid}" not in page.forms  # no change under the second clerk's eyes
    post(
        clara,
        f"/backoffice/refunds/{rid}/bank",
        {"action": "account", "iban": PAYER_IBAN, "reason": "Back"},
        status=409,
    )
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    assert approval.requested_by.name_id == "clerk-clara"
    post(clara, f"/backoffice/approvals/{approval.public_id}/approve", status=403)

    eva = browser("clerk-eva")
    eva.get(f"/backoffice/approvals/{approval.public_id}").forms["approve-form"].submit(status=303)
    dbsession.expire_all()
    assert (refund.status, refund.creditor_iban) == ("to_transfer", OTHER_IBAN)

    page = send_to(clara, payment, rid, PAYER_IBAN, "The payer asked for it back")
    assert "The refund goes to the account given." in page.text
    dbsession.expire_all()
    assert (refund.status, refund.creditor_iban) == ("to_transfer", PAYER_IBAN)
    assert dbsession.scalar(select(func.count()).select_from(ApprovalRequest)) == 1
    assert audited(dbsession, "refund.account_changed") == 2


@pytest.mark.parametrize("decision", ["reject", "withdraw"])
def test_an_account_change_not_approved_leaves_the_refund_to_the_account_of_origin(
    clara, ana, browser, dbsession, decision
):
    """Only the account was in question, not the refund: rejected or withdrawn, the change
    leaves the refund going, in the next file, to the account the money came from."""
    bill, payment = overpaid_bill(dbsession, clara, ana)
    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    send_to(clara, payment, refund.public_id, OTHER_IBAN, "The payer's letter of 4 December")
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    assert approval.kind == "refund_account"
    assert approval.reason == "The payer's letter of 4 December"
    assert "to the account ending in 6205" in approval.description
    page = f"/backoffice/approvals/{approval.public_id}"
    assert "Refund to another account" in clara.get(page).text

    clerk = browser("clerk-eva") if decision == "reject" else clara
    form = clerk.get(page).forms[f"{decision}-form"]
    if decision == "reject":
        form["note"] = "The letter is not signed by the payer"
    form.submit(status=303)
    dbsession.expire_all()
    assert (refund.status, refund.creditor_iban, refund.account_reason) == (
        "to_transfer",
        PAYER_IBAN,
        None,
    )
    assert payment.refunded_minor == 5_00  # still reserved for the refund
    clara.get(REFUNDS).forms["export-form"].submit(status=303)
    document = etree.fromstring(dbsession.scalars(select(RefundTransferFile)).one().xml)
    assert document.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == PAYER_IBAN


def test_a_returned_transfer_is_the_payers_credit_again_and_a_clerk_confirms_another(
    clara, ana, dbsession
):
    bill, payment = overpaid_bill(dbsession, clara, ana)
    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    clara.get(REFUNDS).forms["export-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    page = clara.get(f"/backoffice/payments/{payment.public_id}")
    returned = page.forms[f"returned-form-{refund.public_id}"]
    returned["reason"] = "Account closed (bank's return AC04)"
    returned.submit(status=303)
    dbsession.expire_all()
    assert refund.status == "failed"
    assert payment.refundable.minor == 15_00  # refundable again
    assert owed(dbsession, bill) == -5_00
    assert audited(dbsession, "refund.returned") == 1

    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill, again")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    second = dbsession.scalars(select(Refund).where(Refund.id != refund.id)).one()
    page = clara.get(f"/backoffice/payments/{payment.public_id}")
    # made by hand at the bank, before any file: the clerk confirms it
    page.forms[f"confirm-form-{second.public_id}"].submit(status=303)
    dbsession.expire_all()
    assert second.status == "succeeded" and owed(dbsession, bill) == 0
    assert audited(dbsession, "refund.confirmed") == 1
    # a decided refund cannot be decided again
    post(clara, f"/backoffice/refunds/{second.public_id}/bank", {"action": "confirm"}, status=409)


def test_a_refund_rows_form_sent_wrong_shows_the_payment_again_with_the_errors_by_its_fields(
    clara, ana, dbsession
):
    """Another account that is no IBAN and no reason, or a return with no reason: the
    payment page again, the summary linking to the refund row's fields, what was typed kept;
    the refund as it was."""
    bill, payment = overpaid_bill(dbsession, clara, ana)
    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    rid = refund.public_id
    page = clara.get(f"/backoffice/payments/{payment.public_id}")
    account = page.forms[f"account-form-{rid}"]
    account["iban"] = "SI56 0201 7001 4356 206"  # a typing mistake
    page = account.submit(status=422)
    assert_error_summary(page, [f"iban-{rid}", f"reason-{rid}"])
    assert "not a valid IBAN" in page.html.find(id=f"iban-{rid}-error").text
    assert page.html.find(id=f"iban-{rid}")["value"] == "SI56 0201 7001 4356 206"
    assert "Say why the refund goes to another account" in page.html.find(id="form-errors").text

    clara.get(REFUNDS).forms["export-form"].submit(status=303)
    page = clara.get(f"/backoffice/payments/{payment.public_id}")
    page = page.forms[f"returned-form-{rid}"].submit(status=422)
    assert_error_summary(page, [f"returned-{rid}"])
    assert "Say why the bank returned the transfer." in page.html.find(id="form-errors").text

    dbsession.expire_all()
    assert (refund.status, refund.creditor_iban) == ("sent", PAYER_IBAN)
    assert audited(dbsession, "refund.account_changed") == audited(dbsession, "refund.returned")
    assert audited(dbsession, "refund.returned") == 0


def test_a_refund_the_rules_decide_on_a_bank_payment_goes_by_transfer(
    clara, ana, dbsession, sent_refunds, wsgi_app
):
    from portal.billing import refund_bill
    from portal.tasks import task_dbsession

    bill, _payment = overpaid_bill(dbsession, clara, ana)
    with task_dbsession(wsgi_app.registry) as session:
        refund = refund_bill(session, session.get(type(bill), bill.id), "Complaint upheld")
        public_id = refund.public_id
    refund = dbsession.scalar(select(Refund).where(Refund.public_id == public_id))
    assert (refund.status, refund.amount_minor, refund.creditor_iban) == (
        "to_transfer",
        15_00,
        PAYER_IBAN,
    )
    assert sent_refunds == []


def test_an_organisations_transfer_gets_its_receipt_and_its_credit_is_refundable(
    clara, browser, dbsession
):
    olga = browser("rep-olga")  # her organisation is known once she has signed in
    northwind = dbsession.scalar(
        select(Organisation).where(Organisation.registration_number == "NW-100200")
    )
    bill, payment = overpaid_bill(dbsession, clara, organisation=northwind)
    assert (payment.payer_user_id, payment.payer_organisation_id) == (None, northwind.id)
    receipt = dbsession.scalars(select(Receipt)).one()
    assert (receipt.owner_user_id, receipt.owner_organisation_id) == (None, northwind.id)
    assert receipt.number in olga.get("/receipts").text
    assert "Northwind Supplies Ltd" in clara.get(f"/backoffice/payments/{payment.public_id}").text
    other = browser("citizen-ana").get(f"/payments/{payment.public_id}", status="*")
    assert other.status_int in (403, 404)
    form = refund_form(clara, payment, {bill: "5.00"}, "Paid more than the bill")
    form.submit(status=200).forms["confirm-form"].submit(status=303)
    refund = dbsession.scalars(select(Refund)).one()
    assert (refund.status, refund.creditor_iban) == ("to_transfer", PAYER_IBAN)
