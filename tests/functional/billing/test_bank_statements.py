"""Bank statements: a clerk uploads the day's camt.053 (or an intraday camt.054); each credit
is posted once, matched to its bill by RF reference or bill number, and what matches nothing
waits in the work queue for a clerk to assign or return it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.billing import ledger
from portal.billing.bills import with_status
from portal.billing.camt import CamtError, parse
from portal.billing.models import (
    BankLine,
    BankStatement,
    JournalTransaction,
    Payment,
    PaymentAllocation,
)
from portal.cases.models import Case
from tests import factories
from tests.bank_files import Credit, camt
from tests.error_summary import assert_error_summary
from tests.functional.cases.conftest import post

URL = "/backoffice/departments/revenue/bank-statements"


@pytest.fixture
def clerk(signed_in):
    return signed_in("clerk-clara")


@pytest.fixture
def citizen(dbsession):
    return factories.user(dbsession, "citizen-ana")


def upload(app, data: bytes, status=303, name="statement.xml"):
    return post(app, URL, upload_files=[("file", name, data)], status=status)


def status_of(dbsession, bill):
    dbsession.expire_all()
    return with_status(dbsession, [bill])[0]


def bank_postings(dbsession) -> int:
    return dbsession.scalar(
        select(func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.idempotency.like("bank_line:%"))
    )


@pytest.mark.parametrize("version", ["02", "08"])
def test_both_versions_and_formats_are_read(version):
    credits = [
        Credit("12.50", reference="RF18539007547034", servicer_reference="A1"),
        Credit("3.00", text="B-000001 thanks", end_to_end="E2E-1"),
        Credit("9.99", debit=True, servicer_reference="D1"),
    ]
    for kind in ("053", "054"):
        (statement,) = parse(camt(kind, f"S-{kind}", credits, version=version))
        assert statement.kind == f"camt.{kind}" and statement.statement_id == f"S-{kind}"
        first, second = statement.credits  # the debit is skipped
        assert (first.amount.minor, first.amount.currency) == (1250, "EUR")
        assert first.creditor_reference == "RF18539007547034"
        assert first.servicer_reference == "A1" and first.booked_on.isoformat() == "2026-12-04"
        assert second.remittance == "B-000001 thanks" and second.end_to_end_id == "E2E-1"
        assert second.servicer_reference == "" and second.debtor_name == "A Payer"


def test_the_sample_files_are_read():
    from pathlib import Path

    samples = sorted(Path(__file__).parents[3].joinpath("samples/camt").glob("*.xml"))
    assert len(samples) >= 2
    for sample in samples:
        assert parse(sample.read_bytes())[0].credits


def test_a_statement_pays_bills_fully_partly_and_over_and_queues_the_rest(
    clerk, citizen, dbsession
):
    full = factories.bill(dbsession, citizen, amount=120_00)
    partly = factories.bill(dbsession, citizen, amount=50_00)
    over = factories.bill(dbsession, citizen, amount=10_00)
    dbsession.commit()
    data = camt(
        "053",
        "STMT-1",
        [
            Credit("120.00", reference=full.reference, servicer_reference="R1"),
            Credit("20.00", text=f"Payment of bill {partly.number}", servicer_reference="R2"),
            Credit("15.00", text=f"ref {over.reference[:4]} {over.reference[4:]}", end_to_end="X"),
            Credit("7.00", text="no idea", servicer_reference="R4"),
            # a reference with wrong check digits matches nothing
            Credit("1.00", reference="RF00" + full.reference[4:], servicer_reference="R5"),
        ],
    )
    page = upload(clerk, data).follow()
    assert "5 new credits, 0 already imported" in page.text
    assert status_of(dbsession, full).status == "paid"
    assert status_of(dbsession, partly).outstanding.minor == 30_00
    assert status_of(dbsession, partly).status == "partly_paid"
    assert status_of(dbsession, over).status == "overpaid"
    assert ledger.account_balance(dbsession, "clearing:bank") == {"EUR": 155_00}
    # a person's bill paid by transfer is a settled payment, with its receipt
    payments = dbsession.scalars(select(Payment).where(Payment.provider == "bank")).all()
    assert sorted(p.amount_minor for p in payments) == [15_00, 20_00, 120_00]
    assert all(p.status == "succeeded" and p.method == "bank_transfer" for p in payments)
    from portal.receipts.models import Receipt

    assert dbsession.scalar(select(func.count()).select_from(Receipt)) == 3
    # each receipt's items add up to what its transfer paid, the last item saying why
    from portal.receipts.issuing import ReceiptKind

    printed = {}
    for receipt in dbsession.scalars(select(Receipt)):
        (bill,) = ReceiptKind().bills(receipt)
        assert sum(line["amount_minor"] for line in bill["lines"]) == receipt.amount_minor
        printed[receipt.amount_minor] = [(i["description"], i["amount"]) for i in bill["lines"]]
    assert [amount for _, amount in printed[120_00]] == ["€120.00"]
    assert printed[20_00][1:] == [("Still to pay", "-€30.00")]
    assert printed[15_00][1:] == [("Your credit", "€5.00")]
    shown = clerk.get(f"/backoffice/payments/{payments[0].public_id}")
    assert "€" in shown.text
    cases = dbsession.scalars(select(Case).where(Case.kind == "bank_line")).all()
    assert len(cases) == 2
    assert {case.department_id for case in cases} == {full.service.department_id}


def printed_shortfalls(dbsession, bill) -> dict[int, list[tuple[str, str]]]:
    """The lines after the bill's own items on each receipt of ``bill``, by amount paid;
    checking that each receipt's lines add up to what it paid."""
    from portal.receipts.issuing import ReceiptKind
    from portal.receipts.models import Receipt

    printed = {}
    receipts = dbsession.scalars(
        select(Receipt)
        .join(Payment, Receipt.payment_id == Payment.id)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.bill_id == bill.id)
    )
    for receipt in receipts:
        (lines,) = [b["lines"] for b in ReceiptKind().bills(receipt)]
        assert sum(line["amount_minor"] for line in lines) == receipt.amount_minor
        printed[receipt.amount_minor] = [(i["description"], i["amount"]) for i in lines][1:]
    return printed


def test_a_second_part_payment_says_what_was_paid_before_and_what_is_still_owed(
    clerk, citizen, dbsession
):
    bill = factories.bill(dbsession, citizen, amount=50_00)
    dbsession.commit()
    upload(clerk, camt("053", "STMT-P1", [Credit("20.00", reference=bill.reference)]))
    upload(clerk, camt("053", "STMT-P2", [Credit("10.00", reference=bill.reference)]))
    assert status_of(dbsession, bill).outstanding.minor == 20_00
    assert printed_shortfalls(dbsession, bill) == {
        20_00: [("Still to pay", "-€30.00")],
        10_00: [("Paid before", "-€20.00"), ("Still to pay", "-€20.00")],
    }


def test_two_part_payments_of_one_statement_count_each_other_once(clerk, citizen, dbsession):
    """Settled at the same moment: the one posted first is the other's "paid before"."""
    bill = factories.bill(dbsession, citizen, amount=50_00)
    dbsession.commit()
    credits = [Credit("20.00", reference=bill.reference), Credit("10.00", text=bill.number)]
    upload(clerk, camt("053", "STMT-P3", credits))
    assert printed_shortfalls(dbsession, bill) == {
        20_00: [("Still to pay", "-€30.00")],
        10_00: [("Paid before", "-€20.00"), ("Still to pay", "-€20.00")],
    }


def test_what_was_refunded_of_an_earlier_payment_is_not_paid_before(clerk, citizen, dbsession):
    bill = factories.bill(dbsession, citizen, amount=50_00)
    dbsession.commit()
    upload(clerk, camt("053", "STMT-P4", [Credit("30.00", reference=bill.reference)]))
    # €10.00 of it given back, as a posted refund records it on the payment's allocation
    allocation = dbsession.scalars(
        select(PaymentAllocation).where(PaymentAllocation.bill_id == bill.id)
    ).one()
    allocation.refunded_minor = 10_00
    dbsession.commit()
    upload(clerk, camt("053", "STMT-P5", [Credit("10.00", reference=bill.reference)]))
    assert printed_shortfalls(dbsession, bill)[10_00] == [
        ("Paid before", "-€20.00"),
        ("Still to pay", "-€20.00"),
    ]


def test_the_same_statement_is_refused_and_an_intraday_credit_is_posted_once(
    clerk, citizen, dbsession
):
    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    intraday = Credit("10.00", reference=bill.reference, servicer_reference="BANK-77")
    no_bank_ref = Credit("5.00", reference=bill.reference, end_to_end="E2E-9")
    upload(clerk, camt("054", "NTF-1", [intraday, no_bank_ref], version="08"))
    statement = camt(
        "053",
        "STMT-9",
        [
            intraday,
            no_bank_ref,
            Credit("1.00", reference=bill.reference, servicer_reference="BANK-78"),
        ],
    )
    page = upload(clerk, statement).follow()
    assert "1 new credits, 2 already imported" in page.text
    assert status_of(dbsession, bill).outstanding.minor == 24_00
    assert bank_postings(dbsession) == 3
    refused = upload(clerk, statement, status=409)
    assert "already imported" in refused.text
    assert bank_postings(dbsession) == 3
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 2


HOSTILE = {
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<Stmt><Id>&lol3;</Id></Stmt></BkToCstmrStmt></Document>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<Stmt><Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>""",
    "external DTD": b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>""",
    "not XML": b"\x00\x01 not a statement",
    "another format": b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_or_foreign_xml_is_refused_with_a_400(name, clerk, dbsession):
    with pytest.raises(CamtError):
        parse(HOSTILE[name])
    page = upload(clerk, HOSTILE[name], status=400)
    assert "not a bank statement the portal can read" in page.text
    assert "root:" not in page.text
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 0


def test_another_accounts_statement_is_refused(clerk, dbsession):
    data = camt(
        "053", "S-X", [Credit("1.00", servicer_reference="Q")], iban="DE89370400440532013000"
    )
    assert "another account" in upload(clerk, data, status=422).text
    assert dbsession.scalar(select(func.count()).select_from(BankLine)) == 0


def test_a_citizen_and_another_departments_clerk_cannot_upload(signed_in, testapp):
    signed_in("citizen-ana")
    testapp.get(URL, status=403)


def test_a_clerk_assigns_an_unmatched_credit_or_returns_one(clerk, citizen, dbsession):
    first = factories.bill(dbsession, citizen, amount=30_00)
    second = factories.bill(dbsession, citizen, amount=25_00)
    dbsession.commit()
    upload(
        clerk,
        camt(
            "053",
            "STMT-Q",
            [
                Credit("60.00", text="two bills", servicer_reference="Q1"),
                Credit("8.00", text="unknown", servicer_reference="Q2"),
            ],
        ),
    )
    lines = {line.servicer_reference: line for line in dbsession.scalars(select(BankLine))}
    assign_url = f"/backoffice/bank-lines/{lines['Q1'].public_id}"
    queue = clerk.get(assign_url)
    assert "Assign to these bills" in queue.text
    refused = post(clerk, assign_url, {"action": "assign", "bills": "B-999999"}, status=422)
    assert "does not exist" in refused.html.find(id="bills-error").text
    post(clerk, assign_url, {"action": "assign", "bills": f"{first.number}, {second.reference}"})
    assert status_of(dbsession, first).status == "paid"
    assert status_of(dbsession, second).status == "overpaid"  # 5.00 is the payer's credit
    assert status_of(dbsession, second).outstanding.minor == -5_00
    return_url = f"/backoffice/bank-lines/{lines['Q2'].public_id}"
    post(clerk, return_url, {"action": "return"})
    dbsession.expire_all()
    assert {
        line.servicer_reference: line.status for line in dbsession.scalars(select(BankLine))
    } == {
        "Q1": "assigned",
        "Q2": "returned",
    }
    assert bank_postings(dbsession) == 1  # a returned credit posts nothing
    cases = dbsession.scalars(select(Case).where(Case.kind == "bank_line")).all()
    assert sorted(case.outcome for case in cases) == ["assigned", "returned"]
    in_words = {"assigned": "Assigned to bills", "returned": "Returned to the payer"}
    for case in cases:  # the outcome in words, and closed by someone who never claimed it
        page = clerk.get(f"/backoffice/cases/{case.public_id}").html
        assert page.find(id="case-outcome").text.strip() == in_words[case.outcome]
        assert page.find(id="case-assignee").text.strip() == "Closed without being claimed"
    assert "already decided" in post(clerk, return_url, {"action": "return"}, status=409).text


def test_an_integration_drops_a_statement_through_the_api(wsgi_app, citizen, dbsession):
    from tests.functional.api.conftest import conforms, make_client

    bill = factories.bill(dbsession, citizen, amount=12_00)
    revenue = make_client(wsgi_app, dbsession, "property-tax")  # of the revenue department
    factories.service(dbsession, "vehicle-registration", department_code="registry")
    other = make_client(wsgi_app, dbsession, "vehicle-registration")
    # a service of the department not listed in billing.bank.import_services (an outside
    # company's backend that issues bills, say) may not send statements
    outsider = make_client(wsgi_app, dbsession, "waste-collection")  # of the revenue department
    dbsession.commit()
    url = "/api/v1/departments/revenue/bank-statements"
    data = camt("054", "API-1", [Credit("12.00", reference=bill.reference, servicer_reference="P")])
    xml = {"Content-Type": "application/xml"}

    def send(client, body, status, headers=xml):
        return client.app.post(url, body, headers={**client.headers, **headers}, status=status)

    assert send(other, data, 403).content_type == "application/problem+json"
    assert send(outsider, data, 403).content_type == "application/problem+json"
    revenue.app.post(url, data, headers=xml, status=401)
    send(revenue, data, 415, headers={"Content-Type": "text/plain"})
    answer = send(revenue, data, 201)
    conforms(answer, "/api/v1/departments/{code}/bank-statements", "post")
    (statement,) = answer.json["statements"]
    assert (statement["kind"], statement["statement_id"]) == ("camt.054", "API-1")
    assert (statement["new_credits"], statement["matched"], statement["unmatched"]) == (1, 1, 0)
    assert status_of(dbsession, bill).status == "paid"
    assert send(revenue, data, 409).content_type == "application/problem+json"
    assert send(revenue, HOSTILE["billion laughs"], 400).json["status"] == 400


def test_reconciliation_shows_the_days_bank_transfers_and_their_bills(
    clerk, citizen, dbsession, stripe_standin
):
    bill = factories.bill(dbsession, citizen, amount=9_00)
    dbsession.commit()
    upload(
        clerk,
        camt(
            "053",
            "REC-1",
            [
                Credit("9.00", reference=bill.reference, servicer_reference="REC-A"),
                Credit("4.00", text="?", servicer_reference="REC-B"),
            ],
        ),
    )
    page = clerk.get(
        "/backoffice/reconciliation", params={"date": "2026-12-04", "provider": "stripe"}
    )
    section = page.html.find(id="bank_lines")
    text = section.get_text(" ", strip=True)
    assert "(2)" in text and "REC-A" in text and "REC-B" in text
    assert f"{bill.number} €9.00" in text and "Waiting for a clerk" in text
    other_day = clerk.get(
        "/backoffice/reconciliation", params={"date": "2026-12-03", "provider": "stripe"}
    )
    assert "REC-A" not in other_day.html.find(id="bank_lines").get_text()


def test_a_credit_never_pays_another_departments_bill(clerk, citizen, dbsession):
    factories.service(dbsession, "vehicle-registration", department_code="registry")
    theirs = factories.bill(dbsession, citizen, amount=10_00, service_code="vehicle-registration")
    dbsession.commit()
    upload(
        clerk,
        camt(
            "053",
            "STMT-D",
            [
                Credit("10.00", reference=theirs.reference, servicer_reference="D1"),
                Credit("10.00", text=f"bill {theirs.number}", servicer_reference="D2"),
            ],
        ),
    )
    lines = {line.servicer_reference: line for line in dbsession.scalars(select(BankLine))}
    assert {line.status for line in lines.values()} == {"unmatched"}
    url = f"/backoffice/bank-lines/{lines['D1'].public_id}"
    assert theirs.number not in clerk.get(url).text
    for name in (theirs.number, theirs.reference):
        refused = post(clerk, url, {"action": "assign", "bills": name}, status=422)
        assert "does not exist" in refused.html.find(id="bills-error").text
    assert status_of(dbsession, theirs).status != "paid"
    assert bank_postings(dbsession) == 0


def test_a_credit_is_not_spread_over_bills_of_different_payers(clerk, citizen, dbsession):
    mine = factories.bill(dbsession, citizen, amount=10_00)
    another = factories.bill(dbsession, factories.user(dbsession, "citizen-bor"), amount=10_00)
    dbsession.commit()
    upload(clerk, camt("053", "STMT-P", [Credit("20.00", text="?", servicer_reference="P1")]))
    line = dbsession.scalars(select(BankLine)).one()
    url = f"/backoffice/bank-lines/{line.public_id}"
    refused = post(
        clerk, url, {"action": "assign", "bills": f"{mine.number}, {another.number}"}, status=422
    )
    assert "same payer" in refused.text
    assert bank_postings(dbsession) == 0
    post(clerk, url, {"action": "assign", "bills": mine.number})
    assert status_of(dbsession, mine).status == "overpaid"


def test_a_notification_and_a_statement_of_the_same_id_both_import(clerk, citizen, dbsession):
    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    notice = Credit("10.00", reference=bill.reference, servicer_reference="N-1")
    upload(clerk, camt("054", "2026-12-04", [notice], version="08"))
    closing = Credit("5.00", reference=bill.reference, servicer_reference="S-1")
    page = upload(clerk, camt("053", "2026-12-04", [notice, closing])).follow()
    assert "1 new credits, 1 already imported" in page.text
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 2
    assert status_of(dbsession, bill).outstanding.minor == 25_00


def test_a_reversal_is_never_matched_and_a_reversed_debit_is_reported(clerk, citizen, dbsession):
    bill = factories.bill(dbsession, citizen, amount=10_00)
    dbsession.commit()
    data = camt(
        "053",
        "STMT-RV",
        [
            # a credit reversing an earlier debit names the bill, but is no payment of it
            Credit("10.00", reference=bill.reference, servicer_reference="RV1", reversal=True),
            # the bank takes back an earlier credit
            Credit("4.00", debit=True, reversal=True, servicer_reference="RV2"),
        ],
    )
    (statement,) = parse(data)
    assert [credit.reversal for credit in statement.credits] == [True]
    assert statement.reversed_debits == 1
    page = upload(clerk, data).follow()
    assert "1 debits of the statement reverse earlier credits" in page.text
    line = dbsession.scalars(select(BankLine)).one()
    assert line.status == "unmatched"
    assert status_of(dbsession, bill).status != "paid"
    assert bank_postings(dbsession) == 0
    assert dbsession.scalars(select(Case).where(Case.kind == "bank_line")).one()


def test_two_payers_identical_fees_without_the_banks_reference_are_both_posted(
    clerk, citizen, dbsession
):
    """Both say NOTPROVIDED, the same amount on the same day, and no AcctSvcrRef: their
    accounts tell them apart. One payer paying the same twice in one file: the file's
    numbering does."""
    first = factories.bill(dbsession, citizen, amount=10_00)
    second = factories.bill(dbsession, factories.user(dbsession, "citizen-bor"), amount=10_00)
    third = factories.bill(dbsession, citizen, amount=30_00)
    dbsession.commit()
    fee = {"text": "Fee", "end_to_end": "NOTPROVIDED"}
    twice = Credit("5.00", reference=third.reference, debtor_iban="SI56191000000123438")
    data = camt(
        "053",
        "STMT-F",
        [
            Credit("10.00", reference=first.reference, debtor_iban="SI56191000000123438", **fee),
            Credit("10.00", reference=second.reference, debtor_iban="SI56020170014356205", **fee),
            twice,
            twice,
        ],
    )
    page = upload(clerk, data).follow()
    assert "4 new credits, 0 already imported" in page.text
    assert status_of(dbsession, first).status == "paid"
    assert status_of(dbsession, second).status == "paid"
    assert status_of(dbsession, third).outstanding.minor == 20_00
    assert bank_postings(dbsession) == 4
    # the day's statement repeats the notification's credits: each is posted once
    page = upload(clerk, camt("054", "NTF-F", [twice, twice, twice], version="08")).follow()
    assert "1 new credits, 2 already imported" in page.text
    assert status_of(dbsession, third).outstanding.minor == 15_00


@pytest.mark.parametrize("referenced_first", [True, False], ids=["054-with", "054-without"])
def test_a_credit_with_the_banks_reference_in_one_file_only_is_posted_once(
    referenced_first, clerk, citizen, dbsession
):
    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    with_reference = Credit(
        "10.00",
        reference=bill.reference,
        servicer_reference="BANK-5",
        debtor_iban="SI56191000000123438",
    )
    without = Credit("10.00", reference=bill.reference, debtor_iban="SI56191000000123438")
    notice, closing = (with_reference, without) if referenced_first else (without, with_reference)
    upload(clerk, camt("054", "NTF-R", [notice], version="08"))
    page = upload(clerk, camt("053", "STMT-R", [closing])).follow()
    assert "0 new credits, 1 already imported" in page.text
    assert status_of(dbsession, bill).outstanding.minor == 30_00
    assert bank_postings(dbsession) == 1


def test_another_credit_of_the_same_content_but_its_own_reference_is_new(clerk, citizen, dbsession):
    """Two transfers alike but for the bank's references are two credits."""
    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    alike = {"reference": bill.reference, "debtor_iban": "SI56191000000123438"}
    upload(clerk, camt("054", "NTF-A", [Credit("10.00", servicer_reference="A-1", **alike)]))
    page = upload(
        clerk,
        camt(
            "053",
            "STMT-A",
            [
                Credit("10.00", servicer_reference="A-2", **alike),
                Credit("10.00", servicer_reference="A-1", **alike),
            ],
        ),
    ).follow()
    assert "1 new credits, 1 already imported" in page.text
    assert status_of(dbsession, bill).outstanding.minor == 20_00


def test_a_statement_whose_batch_does_not_add_up_is_refused_whole(clerk, citizen, dbsession):
    from tests.bank_files import Batch

    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    batch = Batch(
        [Credit("1.00", reference=bill.reference), Credit("2.00", reference=bill.reference)],
        servicer_reference="BATCH-9",
        amount="5.00",
    )
    data = camt("053", "STMT-X", [Credit("3.00", reference=bill.reference), batch])
    refused = upload(clerk, data, status=422)
    assert "transactions of entry BATCH-9 add up to" in refused.text
    assert "ask the bank for a corrected file" in refused.text
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 0
    assert bank_postings(dbsession) == 0


def test_a_statement_naming_two_credits_by_one_bank_reference_is_refused_whole(
    clerk, citizen, dbsession
):
    """Not a conflict to try again (the database's unique key on the reference answered
    409 "being imported at the same time" for ever): the file contradicts itself."""
    bill = factories.bill(dbsession, citizen, amount=40_00)
    dbsession.commit()
    twice = [
        Credit("10.00", reference=bill.reference, servicer_reference="DUP-1"),
        Credit("20.00", reference=bill.reference, servicer_reference="DUP-1"),
    ]
    refused = upload(clerk, camt("053", "STMT-D", twice), status=422)
    assert "two credits carry the bank reference DUP-1" in refused.text
    assert "ask the bank for a corrected file" in refused.text
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 0
    assert bank_postings(dbsession) == 0


def test_free_text_matches_a_bill_number_not_an_ordinary_word(clerk, citizen, dbsession):
    from portal.billing.bills import issue_bill
    from portal.catalogue.interfaces import BillLineInput
    from portal.money import Money

    wordy = issue_bill(
        dbsession,
        service=factories.service(dbsession, "property-tax"),
        number="taxes",
        description="A bill numbered like a word",
        due_date=factories.dt.date(2026, 12, 31),
        lines=[BillLineInput("Tax", Money(10_00, "EUR"))],
        payer_user=citizen,
    )
    numbered = factories.bill(dbsession, citizen, amount=20_00)
    dbsession.commit()
    upload(
        clerk,
        camt(
            "053",
            "STMT-W",
            [
                Credit("10.00", text="For my taxes", servicer_reference="W1"),
                Credit("10.00", text=f"Bill {numbered.number}. Thanks", servicer_reference="W2"),
                Credit(
                    "1.00",
                    text=f"{numbered.reference[:4]} {numbered.reference[4:]} ok",
                    servicer_reference="W3",
                ),
            ],
        ),
    )
    lines = {line.servicer_reference: line for line in dbsession.scalars(select(BankLine))}
    assert lines["W1"].status == "unmatched"
    assert status_of(dbsession, wordy).status == "open"
    assert lines["W2"].status == "matched" and lines["W3"].status == "matched"
    assert status_of(dbsession, numbered).outstanding.minor == 9_00


def test_an_upload_refused_for_its_file_shows_the_page_again_with_the_error_by_the_file(
    clerk, dbsession
):
    """No file, one that is not a statement, or another account's: the page again with the
    summary linking to the file field and the reason beside it; nothing imported."""
    page = clerk.get(URL).forms["statement-form"].submit(status=422)
    assert_error_summary(page, ["file"])
    assert "Choose a camt.053 or camt.054 file" in page.html.find(id="file-error").text

    form = page.forms["statement-form"]
    form["file"] = ("statement.xml", b"<not-camt/>", "application/xml")
    page = form.submit(status=400)
    assert_error_summary(page, ["file"])
    assert "not a bank statement the portal can read" in page.html.find(id="file-error").text

    form = page.forms["statement-form"]
    theirs = camt(
        "053", "S-X", [Credit("1.00", servicer_reference="Q")], iban="DE89370400440532013000"
    )
    form["file"] = ("statement.xml", theirs, "application/xml")
    page = form.submit(status=422)
    assert_error_summary(page, ["file"])
    assert "another account" in page.html.find(id="file-error").text
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 0
    assert dbsession.scalar(select(func.count()).select_from(BankLine)) == 0


def test_bills_that_cannot_have_a_credit_show_its_page_again_with_the_error_by_the_bills(
    clerk, citizen, dbsession
):
    """Bills that do not exist, or of two payers: the credit's page again with the summary
    linking to the bills' field, what was typed kept; the credit stays undecided."""
    mine = factories.bill(dbsession, citizen, amount=30_00)
    another = factories.bill(dbsession, factories.user(dbsession, "citizen-ben"), amount=5_00)
    dbsession.commit()
    upload(clerk, camt("053", "STMT-F", [Credit("8.00", text="?", servicer_reference="F1")]))
    line = dbsession.scalars(select(BankLine)).one()
    url = f"/backoffice/bank-lines/{line.public_id}"

    page = clerk.get(url).forms["assign-form"].submit("action", value="assign", status=422)
    assert_error_summary(page, ["bills"])
    assert "Name one to ten bills" in page.html.find(id="bills-error").text

    form = page.forms["assign-form"]
    form["bills"] = f"{mine.number}, {another.number}"
    page = form.submit("action", value="assign", status=422)
    assert_error_summary(page, ["bills"])
    assert "All the bills must be of the same payer." in page.html.find(id="form-errors").text
    assert page.html.find(id="bills")["value"] == f"{mine.number}, {another.number}"

    dbsession.expire_all()
    assert dbsession.get(BankLine, line.id).status == "unmatched"
    assert bank_postings(dbsession) == 0
    assert status_of(dbsession, mine).outstanding.minor == 30_00
