"""A certificate is a document like a receipt: PDF/A-3b, signed by the portal, with a QR code
leading to /verify, numbered per fiscal year in the decision's transaction and rendered after
it commits."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import transaction
from sqlalchemy import select

from portal.applications.certificates import issue_certificate
from portal.applications.models import Application, Certificate
from portal.applications.workflow import decide_approve
from portal.clock import clock as app_clock
from portal.db import get_tm_session
from portal.documents.kinds import document_issuer
from portal.documents.models import DocumentCounter
from portal.identity.models import User
from tests.functional.applications.conftest import the_application
from tests.functional.receipts.test_receipts import validate
from tests.pdfa import pdfa3b_attachment


def approve(clerk, public_id: str):
    review = clerk.get(f"/backoffice/applications/{public_id}")
    return review.forms["approve-form"].submit(status=303).follow()


def the_certificate(dbsession) -> Certificate:
    dbsession.expire_all()
    return dbsession.scalars(select(Certificate)).one()


def test_the_certificate_is_a_signed_pdfa_document(
    paid_application, clerk, citizen, dbsession, keys_dir, tmp_path
):
    page = approve(clerk, paid_application)
    certificate = the_certificate(dbsession)
    year = certificate.issued_at.year
    assert certificate.number == f"C-{year}-000001"
    assert f"Approved. Certificate {certificate.number} issued." in page.text

    download = citizen.get(f"/applications/{paid_application}").click(linkid="certificate-link")
    assert download.body == certificate.pdf
    status = validate(download.body, keys_dir / "signing.crt")
    assert status.intact and status.valid and status.bottom_line

    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(download.body)
    data = pdfa3b_attachment(pdf, "certificate.json")
    assert certificate.number in data and "WDB9634031L123456" in data
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"https://localhost/verify/{certificate.verification_code}" in text
    code = certificate.verification_code
    assert f"Verificationcode:{code[:5]}-{code[5:]}" in "".join(text.split())  # letter-spaced
    assert "signed by City of Example" in " ".join(text.split())


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools not installed")
def test_the_certificates_qr_code_verifies(paid_application, clerk, dbsession, tmp_path, testapp):
    approve(clerk, paid_application)
    certificate = the_certificate(dbsession)
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(certificate.pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(next(tmp_path.glob("page*.png")))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert decoded == f"https://localhost/verify/{certificate.verification_code}"

    shown = testapp.get(decoded.removeprefix("https://localhost"))
    summary = shown.html.find(id="document").text
    assert "Valid" in shown.text and "Certificate" in summary
    assert certificate.number == shown.html.find(id="document-number").text.strip()
    assert "Civil Registry and Licensing" in summary
    assert shown.html.find(id="document-amount") is None  # a certificate states no amount
    assert "Ana" not in shown.text  # nothing personal


def test_a_rolled_back_decision_leaves_no_certificate_and_takes_no_number(
    paid_application, clerk, wsgi_app, dbsession
):
    """The decision's transaction fails after the certificate was numbered: nothing stays,
    and the next decision gets the number the failed one had taken."""
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    session = get_tm_session(wsgi_app.registry["dbsession_factory"], manager)
    application = session.scalars(
        select(Application).where(Application.public_id == paid_application)
    ).one()
    dan = session.scalars(select(User).where(User.name_id == "clerk-dan")).one()
    now = app_clock(wsgi_app.registry).now()
    decide_approve(session, application, dan, "", now)
    issuer = document_issuer(wsgi_app.registry)
    taken = issue_certificate(issuer, session, application, now).number
    manager.abort()

    dbsession.expire_all()
    assert dbsession.scalars(select(Certificate)).all() == []
    counters = select(DocumentCounter).where(DocumentCounter.series == "C")
    assert dbsession.scalars(counters).all() == []
    assert the_application(dbsession, paid_application).status == "in_queue"

    approve(clerk, paid_application)
    assert the_certificate(dbsession).number == taken


def test_the_applicant_and_the_clerk_are_told_the_certificate_is_being_prepared(
    paid_application, citizen, clerk, wsgi_app, dbsession
):
    """Between the clerk's decision and the rendering that follows its commit."""
    application = the_application(dbsession, paid_application)
    certificate = document_issuer(wsgi_app.registry).record(
        dbsession,
        Certificate(application_id=application.id, owner_user_id=application.applicant_id),
        app_clock(wsgi_app.registry).now(),
    )
    dbsession.commit()

    page = citizen.get(f"/applications/{paid_application}")
    assert f"Your certificate {certificate.number} is being prepared" in page.text
    assert page.html.find(id="certificate-link") is None
    waiting = citizen.get(f"/applications/{paid_application}/certificate", status=503)
    assert waiting.headers["Retry-After"] == "30"
    assert "being prepared" in waiting.text
    review = clerk.get(f"/backoffice/applications/{paid_application}")
    assert f"Certificate {certificate.number} is being prepared" in review.text
    assert "SHA-256" not in review.text
