"""Uploaded documents are typed by their content, limited in size, and stored once."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from types import SimpleNamespace

import pytest

from portal.procurement import files
from portal.refusals import Refusal

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def upload(content: bytes, filename: str = "terms.pdf"):
    return SimpleNamespace(file=io.BytesIO(content), filename=filename)


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_the_type_comes_from_the_content_not_the_name():
    checked = files.check_upload("document", upload(PDF, "offer.docx"), {})
    assert checked.media_type == "application/pdf"
    assert checked.filename == "offer.docx.pdf"

    word = files.check_upload("document", upload(docx(), "../../etc/Terms (v2).docx"), {})
    assert word.media_type.endswith("wordprocessingml.document")
    assert word.filename == "Terms (v2).docx"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"MZ\x90\x00" + bytes(200), "unsupported"),
        (b"<html><script>alert(1)</script></html>", "unsupported"),
        (b"PK\x03\x04 not really a zip", "unsupported"),
        (b"", "invalid"),
    ],
)
def test_other_files_are_refused_with_a_message_for_the_field(content, kind):
    with pytest.raises(Refusal) as refused:
        files.check_upload("document", upload(content, "terms.pdf"), {})
    assert refused.value.kind == kind
    assert [error.field for error in refused.value.errors] == ["document"]


def test_a_file_over_the_limit_is_refused():
    with pytest.raises(Refusal) as refused:
        files.check_upload(
            "document", upload(PDF + bytes(2000)), {"procurement.max_document_bytes": "1000"}
        )
    assert refused.value.kind == "too_large"


def test_the_same_bytes_are_stored_once(dbsession):
    first = files.store(dbsession, files.check_upload("d", upload(PDF), {}), NOW)
    again = files.store(dbsession, files.check_upload("d", upload(PDF, "copy.pdf"), {}), NOW)
    assert first.id == again.id and first.size == len(PDF)


def test_downloads_are_attachments_that_are_never_sniffed():
    headers = files.download_headers('Pogodba "č".pdf', "application/pdf", "ab" * 32)
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Pogodba ___.pdf\"; filename*=UTF-8''Pogodba%20%22%C4%8D%22.pdf"
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
