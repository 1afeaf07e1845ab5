"""Receipts: issued when a payment succeeds, signed, verifiable, downloadable, e-mailed."""

import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select, update

from portal.documents.kinds import document_issuer
from portal.documents.models import Document
from portal.receipts.models import Receipt
from tests import factories
from tests.functional.billing.conftest import deliver, notifications_for
from tests.pdfa import pdfa3b_attachment
from tests.sandbox.conftest import SUCCESS
from tests.sql import statements


@pytest.fixture
def paid(payer, ana_bills, dbsession, sandbox):
    """Ana pays both bills with the success card; the notification reaches the portal."""
    from portal.billing.models import Payment

    hosted = payer.checkout(payer.pay(ana_bills))
    payer.enter_card(hosted, SUCCESS)
    payment = dbsession.scalars(select(Payment)).one()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    dbsession.expire_all()
    return payment


def the_receipt(dbsession) -> Receipt:
    dbsession.expire_all()
    return dbsession.scalars(select(Receipt)).one()


def validate(pdf: bytes, cert_path: Path):
    trust = load_cert_from_pemder(str(cert_path))
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=[trust]))


def test_receipt_is_issued_signed_and_downloadable(paid, payer, dbsession, keys_dir):
    receipt = the_receipt(dbsession)
    assert receipt.number.startswith("R-") and receipt.number.endswith("-000001")
    assert hashlib.sha256(receipt.pdf).hexdigest() == receipt.sha256
    download = payer.app.get(f"/receipts/{receipt.number}.pdf")
    assert download.body == receipt.pdf
    assert download.headers["ETag"].strip('"') == receipt.sha256
    payer.app.get(
        f"/receipts/{receipt.number}.pdf",
        headers={"If-None-Match": download.headers["ETag"]},
        status=304,
    )
    status = validate(download.body, keys_dir / "signing.crt")
    assert status.intact and status.valid and status.bottom_line


def test_changing_one_byte_breaks_the_signature(paid, dbsession, keys_dir):
    pdf = bytearray(the_receipt(dbsession).pdf)
    position = pdf.find(b"/Type /Page") or len(pdf) // 3
    pdf[position + 2] ^= 0x01
    try:
        status = validate(bytes(pdf), keys_dir / "signing.crt")
    except Exception:  # the document no longer parses as signed: also a failure to verify
        return
    assert not (status.intact and status.valid)


def test_receipt_is_pdfa_with_the_data_attached(paid, dbsession, tmp_path, ana_bills):
    receipt = the_receipt(dbsession)
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(receipt.pdf)
    data = json.loads(pdfa3b_attachment(pdf, "receipt.json"))
    assert data["number"] == receipt.number
    assert data["total_minor"] == 120_00 + 35_40
    assert {bill["reference"].replace(" ", "") for bill in data["bills"]} == {
        bill.reference for bill in ana_bills
    }
    assert data["method"] == "Visa •••• 4242"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert receipt.number in text and "Ana Novak" in text and "€155.40" in text
    assert "City of Example" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:] if line.strip())


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools not installed")
def test_qr_code_leads_to_the_verify_page(paid, payer, dbsession, tmp_path, testapp):
    receipt = the_receipt(dbsession)
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(receipt.pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    page = next(tmp_path.glob("page*.png"))
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(page)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == f"https://localhost/verify/{receipt.verification_code}"
    testapp.reset()
    shown = testapp.get(decoded.removeprefix("https://localhost"))
    assert "Valid" in shown.text and receipt.number in shown.text and "€155.40" in shown.text
    assert "Ana" not in shown.text  # nothing personal


def test_verify_unknown_and_rate_limited(testapp, wsgi_app):
    from portal.documents.ratelimit import verify_limiter

    limiter = verify_limiter(wsgi_app.registry)
    limiter._hits.clear()
    assert "Unknown" in testapp.get("/verify/ABCDEFGHJK", status=404).text
    for _ in range(limiter.limit - 1):
        testapp.get("/verify/ABCDEFGHJK", status=404)
    response = testapp.get("/verify/ABCDEFGHJK", status=429)
    assert response.headers["Retry-After"] == "60"
    limiter._hits.clear()


def test_other_people_cannot_download_my_receipt(paid, dbsession, testapp, devidp):
    from tests.conftest import sign_in

    receipt = the_receipt(dbsession)
    testapp.reset()
    sign_in(testapp, devidp, "citizen-ben")
    testapp.get(f"/receipts/{receipt.number}.pdf", status=403)


def test_the_clerks_of_the_paid_department_may_download_the_receipt(paid, dbsession, signed_in):
    """As they may see the payment: the revenue office's clerk, not the registry's."""
    receipt = the_receipt(dbsession)
    path = f"/receipts/{receipt.number}.pdf"
    assert signed_in("clerk-clara").get(path).body == receipt.pdf
    signed_in("clerk-dan").get(path, status=403)


def test_history_links_the_receipt_and_year_zip(paid, payer, dbsession):
    receipt = the_receipt(dbsession)
    assert f"/receipts/{receipt.number}.pdf" in payer.app.get("/payments").text
    archive = zipfile.ZipFile(
        io.BytesIO(payer.app.get(f"/receipts/year/{receipt.fiscal_year}.zip").body)
    )
    assert archive.namelist() == [f"{receipt.number}.pdf"]
    assert archive.read(f"{receipt.number}.pdf") == receipt.pdf


def test_the_payment_page_links_its_receipt_and_credit_note(paid, payer, dbsession, wsgi_app):
    """Receipts lists its documents on billing's payment page (billing knows no receipts)."""
    factories.refund_bill_paid(wsgi_app, paid.id, 35_40, "Water billed twice")
    dbsession.expire_all()
    receipt, credit_note = dbsession.scalars(select(Receipt).order_by(Receipt.id)).all()
    page = payer.app.get(f"/payments/{paid.public_id}")
    links = [(a.attrs["href"], a.text) for a in page.html.select("ul.usa-list a")]
    assert links == [
        (f"/receipts/{receipt.number}.pdf", f"Receipt {receipt.number} (PDF)"),
        (f"/receipts/{credit_note.number}.pdf", f"Credit note {credit_note.number} (PDF)"),
    ]
    # both download, as their payer's documents
    for document in (receipt, credit_note):
        assert payer.app.get(f"/receipts/{document.number}.pdf", status=200).body == document.pdf


def test_receipt_is_mailed_after_commit(paid, dbsession, keys_dir):
    receipt = the_receipt(dbsession)
    mails = list((keys_dir / "mail").glob("*"))
    mine = [m for m in mails if receipt.verification_code in m.read_text(errors="ignore")]
    assert len(mine) == 1
    assert receipt.emailed_at is not None
    assert "ana.novak@example.org" in mine[0].read_text(errors="ignore")


def test_a_refund_gets_its_own_signed_credit_note(paid, dbsession, wsgi_app, keys_dir, testapp):
    refund_id = factories.refund_bill_paid(wsgi_app, paid.id, 35_40, "Water billed twice")

    dbsession.expire_all()
    receipt, credit_note = dbsession.scalars(select(Receipt).order_by(Receipt.id)).all()
    assert credit_note.kind == "credit_note" and credit_note.refund_id == refund_id
    assert credit_note.number.startswith("CN-") and credit_note.number.endswith("-000001")
    assert credit_note.amount_minor == 35_40
    status = validate(credit_note.pdf, keys_dir / "signing.crt")
    assert status.intact and status.valid

    testapp.reset()
    original = testapp.get(f"/verify/{receipt.verification_code}")
    assert "partly refunded" in original.text
    note = testapp.get(f"/verify/{credit_note.verification_code}")
    assert "Credit note" in note.text and "€35.40" in note.text


def test_rendering_reads_a_documents_objects_in_a_few_statements(paid, wsgi_app, ana_bills):
    """A receipt's payment, payer, bills, services and lines are read by the kind's ``load``
    (2 statements whatever the number of bills), a credit note's in 1; ``data`` and
    ``context`` read nothing more, but for the credit note's original receipt number."""
    factories.refund_bill_paid(wsgi_app, paid.id, 35_40, "Water billed twice")
    issuer = document_issuer(wsgi_app.registry)
    assert len(ana_bills) > 1
    with wsgi_app.registry["dbsession_factory"]() as dbsession:  # the app's engine
        receipt, credit_note = dbsession.scalars(select(Receipt).order_by(Receipt.id)).all()
        for document, expected in ((receipt, 2), (credit_note, 1 + 1)):
            kind = issuer.kind(document)
            with statements(wsgi_app) as seen:
                kind.load(document, dbsession)
                issuer.data(document)
                kind.context(document, issuer, dbsession)
            assert len(seen) == expected, seen
        assert len(issuer.data(receipt)["bills"]) == len(ana_bills)


def test_rendering_keeps_bytes_another_worker_stored_meanwhile(paid, wsgi_app):
    """The rendered row is written only if it is still unrendered: a worker that lost the
    race reads the stored bytes back; the winner knows what it wrote without reading it."""
    issuer = document_issuer(wsgi_app.registry)
    table = Document.__table__
    with wsgi_app.registry["dbsession_factory"]() as dbsession:
        receipt = dbsession.scalars(select(Receipt)).one()
        unrendered = {"pdf": None, "storage_key": None, "sha256": None}
        dbsession.execute(update(Document).where(Document.id == receipt.id).values(unrendered))
        assert receipt.sha256 is None
        other = {"pdf": b"%PDF another worker's", "sha256": "0" * 64}
        dbsession.connection().execute(  # unseen by the session, as another worker's commit
            update(table).where(table.c.id == receipt.id).values(other)
        )
        issuer.render(dbsession, receipt)
        assert (receipt.pdf, receipt.sha256) == (other["pdf"], other["sha256"])

        dbsession.execute(update(Document).where(Document.id == receipt.id).values(unrendered))
        with statements(wsgi_app) as seen:
            issuer.render(dbsession, receipt)
        assert seen[-1].startswith("UPDATE document"), seen
        stored = dbsession.execute(
            select(table.c.pdf, table.c.sha256).where(table.c.id == receipt.id)
        ).one()
        assert (receipt.pdf, receipt.sha256) == tuple(stored)
        assert hashlib.sha256(receipt.pdf).hexdigest() == receipt.sha256


def test_receipt_and_its_mail_are_in_the_payer_language(
    payer, ana_bills, dbsession, sandbox, keys_dir
):
    from email import message_from_bytes, policy

    from portal.billing.models import Payment

    account = payer.app.get("/account")
    form = account.forms["language-form"]
    form["language"] = "sl"
    assert "Slovenščina" in form.submit(status=303).follow().text
    # the mail directory is the test session's: another test's receipt to Ana may be there
    earlier = set((keys_dir / "mail").glob("*"))
    hosted = payer.checkout(payer.pay(ana_bills))
    payer.enter_card(hosted, SUCCESS)
    payment = dbsession.scalars(select(Payment)).one()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])

    receipt = the_receipt(dbsession)
    assert receipt.locale == "sl"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=receipt.pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "Potrdilo o plačilu" in text and "Skupaj plačano" in text and "Plačnik" in text
    assert re.search(r"155,40\s€", text)  # Babel's Slovenian format
    assert "Total paid" not in text
    mails = [
        message_from_bytes(m.read_bytes(), policy=policy.default)
        for m in (keys_dir / "mail").glob("*")
        if m not in earlier
    ]
    (mail,) = [
        m
        for m in mails
        if m["Subject"] == f"Potrdilo o plačilu {receipt.number}"
        and m["To"] == "ana.novak@example.org"
    ]
    assert "v prilogi je vaše potrdilo o plačilu" in mail.get_body(("plain",)).get_content()
    # one language for everything: the pages are in it too
    bills = payer.app.get("/bills")
    assert bills.html.html["lang"] == "sl" and bills.html.h1.text == "Vaši računi"


def test_only_an_offered_language_can_be_chosen(payer, ana, dbsession):
    token = re.search(r'name="csrf_token" value="([^"]+)"', payer.app.get("/account").text)[1]
    payer.app.post("/language", {"language": "xx", "csrf_token": token}, status=400)
    payer.app.post("/language", {"language": "sl"}, status=400)  # no CSRF token
    dbsession.refresh(ana)
    assert ana.locale == "en"
