"""The camt files the portal ships (samples/camt) and writes (the demo's and the tests'
statements) against the official ISO 20022 schemas (tests/iso20022, with where they come
from), and what the reader takes from them: references and bill numbers in free text, and
batch entries that must add up."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from portal.billing.camt import EntryMismatch, parse
from portal.billing.matching import bill_numbers_in, references_in
from tests.bank_files import Batch, Credit, camt

ROOT = Path(__file__).parents[3]
SCHEMAS = ROOT / "tests" / "iso20022"
SAMPLES = sorted((ROOT / "samples" / "camt").glob("*.xml"))


def schema_of(document: etree._Element) -> etree.XMLSchema:
    """The official schema of ``document``'s message, by its namespace."""
    message = etree.QName(document).namespace.rsplit(":", 1)[1]
    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"{message}.xsd")))


def assert_valid(data: bytes) -> None:
    document = etree.fromstring(data)
    schema = schema_of(document)
    assert schema.validate(document), schema.error_log


def test_there_are_samples_of_both_messages():
    assert {path.name.split("-")[0][:8] for path in SAMPLES} == {"camt.053", "camt.054"}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_each_sample_is_valid_against_the_official_schema_and_read(sample):
    assert_valid(sample.read_bytes())
    (statement,) = parse(sample.read_bytes())
    assert statement.credits and all(credit.debtor_iban for credit in statement.credits)


def test_the_schema_check_fails_on_a_file_off_the_schema():
    """The check can fail: the element order of CdtrRefInf (Tp, then Ref) matters."""
    data = camt("053", "S-1", [Credit("1.00", reference="RF18539007547034")])
    broken = data.replace(b"<Tp>", b"<CdtrRefTp>").replace(b"</Tp>", b"</CdtrRefTp>")
    document = etree.fromstring(broken)
    assert not schema_of(document).validate(document)


@pytest.mark.parametrize("version", ["02", "08"])
@pytest.mark.parametrize("kind", ["053", "054"])
def test_the_files_the_portal_writes_are_valid(kind, version):
    credits = [
        Credit("12.50", reference="RF18539007547034", servicer_reference="A1"),
        Credit("3.00", text="B-000001", debtor_iban="SI56191000000123438"),
        Credit("9.99", debit=True, end_to_end="REFUND-1", debtor_iban="SI56191000000123438"),
        Credit("4.00", debit=True, reversal=True, servicer_reference="RV"),
        Batch([Credit("1.00", text="one"), Credit("2.00", text="two")], servicer_reference="B"),
    ]
    assert_valid(camt(kind, "S-1", credits, version=version))


def test_the_demo_statement_is_valid(dbsession):
    from portal.scripts.demo_bank import statement
    from tests import factories

    ana = factories.user(dbsession, "citizen-ana")
    for number in ("W2610-citizen-ana", "G2610-citizen-ana", "PT-ANA-0001-2"):
        factories.bill(dbsession, ana).number = number
    dbsession.flush()
    data = statement(dbsession, "SI56263300012039086", "2026-12-04")
    assert data is not None
    assert_valid(data)


def test_a_batch_entry_is_read_as_its_transactions_when_they_add_up():
    batch = Batch(
        [Credit("1.00", servicer_reference="T1"), Credit("2.50", servicer_reference="T2")],
        servicer_reference="BATCH",
    )
    for version in ("02", "08"):
        (statement,) = parse(camt("053", "S-B", [batch], version=version))
        assert [credit.amount.minor for credit in statement.credits] == [100, 250]


@pytest.mark.parametrize("version", ["02", "08"])
def test_a_batch_entry_whose_transactions_do_not_add_up_is_refused(version):
    batch = Batch(
        [Credit("1.00", servicer_reference="T1"), Credit("2.50", servicer_reference="T2")],
        servicer_reference="BATCH-7",
        amount="4.00",
    )
    with pytest.raises(EntryMismatch) as refused:
        parse(camt("053", "S-B", [batch], version=version))
    assert refused.value.entry == "BATCH-7"
    assert (refused.value.entry_amount.minor, refused.value.transactions.minor) == (400, 350)


def test_debits_are_read_with_their_end_to_end_id_and_reversals_apart():
    data = camt(
        "053",
        "S-D",
        [
            Credit("9.99", debit=True, end_to_end="REFUND-1"),
            Credit("4.00", debit=True, reversal=True, end_to_end="OTHER"),
        ],
    )
    (statement,) = parse(data)
    assert [(debit.end_to_end_id, debit.amount.minor) for debit in statement.debits] == [
        ("REFUND-1", 999)
    ]
    assert statement.reversed_debits == 1 and statement.credits == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("RF18 5390 0754 7034 thanks", ["RF18539007547034"]),
        ("ref RF18539007547034. Bill B-1", ["RF18539007547034"]),
        ("rf18 5390 0754 7034 and RF18 5390 0754 7034 again", ["RF18539007547034"] * 2),
        # the first "RF18" group is not followed by a valid body: nothing is invented
        ("RF18 5390 0754 7035 thanks", []),
        ("PERF18539007547034", []),
    ],
)
def test_references_in_free_text_end_where_their_check_digits_hold(text, found):
    assert references_in(text) == found


def test_only_what_has_a_bill_numbers_shape_is_looked_up():
    text = "For my taxes: bill B-000012, PT-ANA-0001-2; W2610/17. Thanks (2026)."
    assert bill_numbers_in(text) == {"B-000012", "PT-ANA-0001-2", "W2610/17", "2026"}
    assert bill_numbers_in("For my taxes, thank you") == set()
