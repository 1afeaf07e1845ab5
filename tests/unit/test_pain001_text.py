"""What a pain.001 file's free text may hold: a bill's number or description came through the
API and may hold characters XML cannot carry at all. They are written as spaces, so one bill
does not stop every later export of its department's refunds (lxml refused to write them)."""

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from portal.billing.pain001 import Transfer, credit_transfers
from portal.billing.transfer import TransferAccount
from portal.money import Money

PAIN = etree.XMLSchema(
    etree.parse(str(Path(__file__).parents[1] / "iso20022" / "pain.001.001.03.xsd"))
)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


@pytest.mark.parametrize("character", ["\uffff", "\ufffe", "\ud800", "\x00", "\x07", "\x85"])
def test_a_character_xml_cannot_carry_is_written_as_a_space(character):
    written = credit_transfers(
        message_id="MSG-1",
        created_at=dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
        execution_date=dt.date(2026, 12, 7),
        debtor=TransferAccount("SI56191000000123438", f"City{character}Treasury"),
        transfers=[
            Transfer(
                end_to_end_id="RF-1",
                amount=Money(5_00, "EUR"),
                creditor_name=f"Ana{character}Novak",
                creditor_iban="SI56020170014356205",
                remittance=f"Refund of bill B-{character}-1 \U0001f642",
            )
        ],
    )
    document = etree.fromstring(written)
    PAIN.assertValid(document)
    assert document.findtext(".//p:RmtInf/p:Ustrd", namespaces=NS) == (
        "Refund of bill B- -1 \U0001f642"
    )
    assert document.findtext(".//p:Cdtr/p:Nm", namespaces=NS) == "Ana Novak"
