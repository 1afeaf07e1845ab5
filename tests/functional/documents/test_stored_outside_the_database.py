"""Documents kept in a folder or an S3 bucket (moto's server, over HTTP) rather than in the
database: a payment's receipt is rendered into the store, downloaded by its payer exactly as
stored and verified at /verify; a 304 does not ask the store; bytes changed in the store are
refused; a rolled-back rendering leaves no row naming nothing; tender documents go the same way."""

from __future__ import annotations

import email
import hashlib
import logging

import pytest
import requests
from sqlalchemy import select, update

from portal.documents.kinds import document_issuer
from portal.documents.models import Document
from portal.documents.storage import FilesystemStore, StoreUnreachable, document_key, file_key
from portal.procurement.models import StoredFile
from portal.receipts.models import Receipt
from tests.functional.billing.conftest import deliver, notifications_for
from tests.functional.documents.conftest import overwrite, remove, s3_store
from tests.functional.procurement.test_public_tenders import NOW, PDF, attach, browser, make_tender
from tests.functional.receipts.test_receipts import validate
from tests.sandbox.conftest import SUCCESS


@pytest.fixture
def store(use_store, outside_store):
    return use_store(outside_store)


def pay(payer, ana_bills, dbsession, sandbox) -> Receipt:
    """Ana pays her bills; the notification reaches the portal, which issues the receipt and
    renders it (the queue runs tasks at once in the tests)."""
    from portal.billing.models import Payment

    payer.enter_card(payer.checkout(payer.pay(ana_bills)), SUCCESS)
    payment = dbsession.scalars(select(Payment)).one()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    dbsession.expire_all()
    return dbsession.scalars(select(Receipt)).one()


@pytest.fixture
def receipt(store, payer, ana_bills, dbsession, sandbox) -> Receipt:
    return pay(payer, ana_bills, dbsession, sandbox)


def test_the_receipt_is_kept_in_the_store_downloaded_by_its_payer_and_verified(
    receipt, store, payer, dbsession, keys_dir, testapp
):
    assert receipt.pdf is None
    assert receipt.storage_key == document_key(receipt.sha256)
    kept = store.get(receipt.storage_key)
    assert hashlib.sha256(kept).hexdigest() == receipt.sha256

    download = payer.app.get(f"/receipts/{receipt.number}.pdf", status=200)
    assert download.body == kept
    assert download.headers["ETag"] == f'"{receipt.sha256}"'
    assert download.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    status = validate(download.body, keys_dir / "signing.crt")
    assert status.intact and status.valid

    mails = [
        email.message_from_bytes(path.read_bytes())
        for path in (keys_dir / "mail").glob("*")
        if receipt.verification_code in path.read_text(errors="ignore")
    ]
    (mail,) = mails
    (attached,) = [part for part in mail.walk() if part.get_filename() == f"{receipt.number}.pdf"]
    assert attached.get_payload(decode=True) == kept

    testapp.reset()
    shown = testapp.get(f"/verify/{receipt.verification_code}", status=200)
    assert "Valid" in shown.text and receipt.number in shown.text


def test_a_browser_holding_the_receipt_gets_its_304_without_the_store_being_asked(
    receipt, store, payer
):
    """The object is gone from the store: a 304 still answers (it never reads it); a
    download that must send the bytes says they cannot be read."""
    remove(store, receipt.storage_key)
    path = f"/receipts/{receipt.number}.pdf"
    cached = payer.app.get(path, headers={"If-None-Match": f'"{receipt.sha256}"'}, status=304)
    assert cached.body == b"" and cached.headers["ETag"] == f'"{receipt.sha256}"'
    missing = payer.app.get(path, status=503)
    assert "cannot be read just now" in missing.text


def test_a_receipt_changed_in_the_store_is_refused_not_served(
    receipt, store, payer, testapp, devidp, caplog
):
    kept = store.get(receipt.storage_key)
    tampered = kept.replace(b"/Type", b"/Typo", 1)
    assert tampered != kept
    overwrite(store, receipt.storage_key, tampered)

    path = f"/receipts/{receipt.number}.pdf"
    with caplog.at_level(logging.ERROR, logger="portal.documents.storage"):
        refused = payer.app.get(path, status=503)
        payer.app.get(f"/receipts/year/{receipt.fiscal_year}.zip", status=503)
    assert "cannot be read just now" in refused.text
    assert tampered not in refused.body
    assert [r.getMessage() for r in caplog.records if "StoredObjectChanged" in r.getMessage()]

    # whoever may not have the receipt is refused before the store is read
    from tests.conftest import sign_in

    testapp.reset()
    sign_in(testapp, devidp, "citizen-ben")
    testapp.get(path, status=403)


def test_a_bucket_that_hands_out_urls_redirects_the_payer_after_the_permission_check(
    use_store, s3_endpoint, payer, ana_bills, dbsession, sandbox, testapp, devidp
):
    store = use_store(s3_store(s3_endpoint, redirect=True, url_seconds=30))
    receipt = pay(payer, ana_bills, dbsession, sandbox)
    path = f"/receipts/{receipt.number}.pdf"

    redirected = payer.app.get(path, status=303)
    assert redirected.headers["Cache-Control"] == "no-store"
    fetched = requests.get(redirected.headers["Location"], timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == receipt.sha256
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="{receipt.number}.pdf"'

    remove(store, receipt.storage_key)
    payer.app.get(path, headers={"If-None-Match": f'"{receipt.sha256}"'}, status=304)

    from tests.conftest import sign_in

    testapp.reset()
    sign_in(testapp, devidp, "citizen-ben")
    assert "Location" not in testapp.get(path, status=403).headers


def test_a_rolled_back_rendering_leaves_an_unnamed_object_and_no_row_naming_nothing(
    receipt, store, wsgi_app, engine, payer
):
    """Bytes are put before the row names them: a rendering whose transaction rolls back
    leaves its object unnamed (harmless); the next rendering stores its own and the row
    names an object that is there."""
    with engine.begin() as connection:
        connection.execute(
            update(Document)
            .where(Document.id == receipt.id)
            .values(pdf=None, storage_key=None, sha256=None)
        )
    issuer = document_issuer(wsgi_app.registry)
    factory = wsgi_app.registry["dbsession_factory"]

    with factory(bind=engine) as session:
        issuer.render(session, session.get(Receipt, receipt.id))
        rolled_back_key = session.get(Receipt, receipt.id).storage_key
        session.rollback()
    with engine.connect() as connection:
        row = connection.execute(
            select(Document.sha256, Document.storage_key).where(Document.id == receipt.id)
        ).one()
    assert tuple(row) == (None, None)
    assert store.get(rolled_back_key)  # unnamed, and harmless

    with factory(bind=engine) as session:
        issuer.render(session, session.get(Receipt, receipt.id))
        session.commit()
        rendered = session.get(Receipt, receipt.id)
        assert rendered.storage_key != rolled_back_key  # a new signature, a new key
        assert hashlib.sha256(store.get(rendered.storage_key)).hexdigest() == rendered.sha256
    download = payer.app.get(f"/receipts/{receipt.number}.pdf", status=200)
    assert hashlib.sha256(download.body).hexdigest() == rendered.sha256


def test_a_store_that_cannot_be_written_leaves_the_document_unstored(
    receipt, use_store, wsgi_app, engine, tmp_path
):
    with engine.begin() as connection:
        connection.execute(
            update(Document)
            .where(Document.id == receipt.id)
            .values(pdf=None, storage_key=None, sha256=None)
        )
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "documents").write_bytes(b"a file where the folder of documents goes")
    use_store(FilesystemStore(blocked))
    factory = wsgi_app.registry["dbsession_factory"]
    with factory(bind=engine) as session:
        with pytest.raises(StoreUnreachable):
            document_issuer(wsgi_app.registry).render(session, session.get(Receipt, receipt.id))
        session.commit()
    with engine.connect() as connection:
        row = connection.execute(
            select(Document.sha256, Document.storage_key, Document.pdf).where(
                Document.id == receipt.id
            )
        ).one()
    assert tuple(row) == (None, None, None)


def test_tender_documents_are_kept_in_the_store_and_downloaded_checked(
    store, dbsession, clock, wsgi_app
):
    tender = make_tender(dbsession, clock, NOW)
    document = attach(dbsession, tender, "Terms of the tender", "terms.pdf")
    stored = dbsession.get(StoredFile, document.file_id)
    assert stored.content is None and stored.storage_key == file_key(stored.sha256)
    assert store.get(stored.storage_key) == PDF

    anyone = browser(wsgi_app)
    path = f"/tenders/{tender.reference}/documents/{document.public_id}"
    download = anyone.get(path, status=200)
    assert download.body == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    overwrite(store, stored.storage_key, PDF.replace(b"Catalog", b"Catalag"))
    anyone.get(path, headers={"If-None-Match": download.headers["ETag"]}, status=304)
    assert "cannot be read just now" in anyone.get(path, status=503).text
