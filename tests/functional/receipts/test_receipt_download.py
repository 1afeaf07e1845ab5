"""What a receipt download reads: the payer's own receipt in one query with its payers (no
payment, no departments), and a browser that holds the bytes gets its 304 without them."""

from tests.functional.receipts import test_receipts
from tests.functional.receipts.test_receipts import the_receipt
from tests.sql import statements

paid = test_receipts.paid


def about_the_receipt(seen: list[str]) -> list[str]:
    """The statements about the document, its payment or the payment's departments (not the
    session and who is signed in)."""
    return [s for s in seen if any(t in s for t in ("FROM document", "FROM payment", "service"))]


def test_the_payers_download_is_one_query_without_the_departments(paid, payer, dbsession, wsgi_app):
    receipt = the_receipt(dbsession)
    with statements(wsgi_app) as seen:
        download = payer.app.get(f"/receipts/{receipt.number}.pdf", status=200)
    assert download.body == receipt.pdf
    (query,) = about_the_receipt(seen)
    assert "JOIN payment" in query and "document.pdf" in query


def test_a_browser_holding_the_receipt_gets_a_304_without_the_bytes_read(
    paid, payer, dbsession, wsgi_app
):
    receipt = the_receipt(dbsession)
    path = f"/receipts/{receipt.number}.pdf"
    with statements(wsgi_app) as seen:
        cached = payer.app.get(path, headers={"If-None-Match": f'"{receipt.sha256}"'}, status=304)
    assert cached.body == b""
    assert cached.headers["ETag"].strip('"') == receipt.sha256
    (query,) = about_the_receipt(seen)
    assert "document.pdf" not in query
    assert not [s for s in seen if "pdf" in s]
    # a tag that no longer matches: the bytes are read and sent
    stale = payer.app.get(path, headers={"If-None-Match": '"0000"'}, status=200)
    assert stale.body == receipt.pdf


def test_department_rules_are_read_only_when_the_payer_check_fails(
    paid, dbsession, signed_in, wsgi_app
):
    receipt = the_receipt(dbsession)
    clerk = signed_in("clerk-clara")
    with statements(wsgi_app) as seen:
        assert clerk.get(f"/receipts/{receipt.number}.pdf").body == receipt.pdf
    assert any("department_id" in s for s in about_the_receipt(seen))


def test_the_download_query_is_rendered_once_not_per_download(engine):
    """Its SQL text is SQLAlchemy's cached one: asked through the Receipt entity, SQLAlchemy
    added the kinds as an expanding ``IN`` and rendered the statement afresh on every
    download. Receipts and credit notes are still the documents it finds (the tests above,
    and the payment page's links to both, followed, in test_receipts)."""
    from portal.receipts.views import _FIND_RECEIPT, _FIND_RECEIPT_WITH_PDF

    for query in (_FIND_RECEIPT, _FIND_RECEIPT_WITH_PDF):
        compiled = query.compile(dialect=engine.dialect)
        assert compiled.literal_execute_params == frozenset()
        assert compiled.post_compile_params == frozenset()
        assert sorted(compiled.params[name] for name in ("kind_1", "kind_2")) == [
            "credit_note",
            "receipt",
        ]
