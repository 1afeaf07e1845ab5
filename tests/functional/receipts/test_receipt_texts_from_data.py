"""A receipt reads in its payer's language, texts from data included: the bills' descriptions
and items, the services' names and the issuer, as their departments and the settings give
them in that language (else in the default language)."""

import subprocess

from sqlalchemy import select

from portal.billing.models import Payment
from portal.receipts.models import Receipt
from tests.functional.billing.conftest import deliver, notifications_for
from tests.sandbox.conftest import SUCCESS


def test_a_receipt_in_slovenian_has_its_texts_from_data_in_slovenian(
    payer, ana, ana_bills, dbsession, sandbox, wsgi_app, monkeypatch
):
    monkeypatch.setitem(wsgi_app.registry.settings, "receipts.authority_name.sl", "Mesto Zgled")
    ana.locale = "sl"
    tax, water = ana_bills
    tax.description_translations = {"sl": "Odmera 2026, 1. četrtletje"}
    water.lines[0].description_translations = {"sl": "Voda, oktober"}
    water.service.name_translations = {"sl": "Pitna voda"}
    dbsession.commit()

    hosted = payer.checkout(payer.pay(ana_bills))
    payer.enter_card(hosted, SUCCESS)
    payment = dbsession.scalars(select(Payment)).one()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    dbsession.expire_all()
    receipt = dbsession.scalars(select(Receipt)).one()
    assert receipt.locale == "sl"

    text = " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=receipt.pdf, capture_output=True, check=True)
        .stdout.decode()
        .split()
    )
    assert "Mesto Zgled" in text and "City of Example" not in text
    assert "Odmera 2026, 1. četrtletje" in text  # the department's
    assert "Davek na nepremičnine" in text  # the service, as the catalogue translates it
    assert "Pitna voda" in text and "Voda, oktober" in text
    # a text without a Slovenian translation is read as it was written
    assert "Water, October" in text
