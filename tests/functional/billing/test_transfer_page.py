"""Paying by bank transfer: each open bill's page shows the authority's account, the bill's
RF reference and what is still owed, and an EPC QR code that a banking app reads back to the
very same fields."""

import base64
import re
import shutil
import subprocess

import pytest

from portal.billing.reference import printed
from portal.billing.transfer import is_valid_iban, transfer_account
from portal.settings import SettingsError
from tests import factories
from tests.conftest import TRANSFER_IBAN
from tests.functional.billing.test_bills_page import settle


def decoded_qr(page, tmp_path) -> list[str]:
    found = re.search(r'id="transfer-qr" src="data:image/png;base64,([^"]+)"', page.text)
    assert found, "no QR code on the page"
    image = tmp_path / "qr.png"
    image.write_bytes(base64.b64decode(found[1]))
    text = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(image)], capture_output=True, text=True, check=True
    ).stdout
    return text.removesuffix("\n").split("\n")


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools not installed")
def test_the_qr_code_carries_every_epc_field_of_what_is_still_owed(payer, ana, dbsession, tmp_path):
    bill = factories.bill(dbsession, ana, amount=120_00, description="Property tax 2026 Q1")
    settle(dbsession, bill, 20_00)
    dbsession.commit()
    listing = payer.app.get("/bills")
    page = listing.click(href=f"/bills/{bill.public_id}/transfer")
    assert "SI56 2633 0001 2039 086" in page.text and "City of Example" in page.text
    assert "€100.00" in page.text
    reference = bill.reference
    assert reference and printed(reference) in page.text
    assert decoded_qr(page, tmp_path) == [
        "BCD",
        "002",
        "1",
        "SCT",
        "BSLJSI2X",
        "City of Example",
        TRANSFER_IBAN,
        "EUR100.00",
        "",
        reference,
        "",
        bill.number,
    ]


def test_a_paid_bill_has_no_transfer_to_make(payer, ana, dbsession):
    bill = factories.bill(dbsession, ana, amount=10_00)
    settle(dbsession, bill, 10_00)
    dbsession.commit()
    page = payer.app.get(f"/bills/{bill.public_id}/transfer")
    assert "nothing left to pay" in page.text and "transfer-qr" not in page.text


def test_someone_elses_bill_is_not_found(payer, dbsession):
    bill = factories.bill(dbsession, factories.user(dbsession, "citizen-other"))
    dbsession.commit()
    payer.app.get(f"/bills/{bill.public_id}/transfer", status=404)
    payer.app.get("/bills/" + "0" * 32 + "/transfer", status=404)


def test_a_mistyped_iban_stops_the_start_up():
    assert is_valid_iban("SI56 2633 0001 2039 086")
    assert not is_valid_iban("SI56 2633 0001 2039 087")  # one digit wrong
    with pytest.raises(SettingsError, match="IBAN"):
        transfer_account(
            {"billing.transfer.iban": "SI56263300012039087", "billing.transfer.beneficiary": "X"}
        )
    with pytest.raises(SettingsError, match="beneficiary"):
        transfer_account({"billing.transfer.iban": TRANSFER_IBAN})
    assert transfer_account({}) is None
