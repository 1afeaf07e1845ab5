"""Uploaded documents (a tender's terms, a bid's offer): checked by content, kept once.

The type is read from the bytes with libmagic (``python-magic``), never from the name or the
browser's Content-Type, and must be one of :data:`ACCEPTED`. Office Open XML files are zip
archives that libmagic does not always tell apart, so a zip is accepted only when its
``[Content_Types].xml`` and main part say which of the three it is. The size limit is the
setting ``procurement.max_document_bytes``. A refused file raises one :class:`Refusal` and
changes nothing. The bytes are kept where documents are (:mod:`portal.documents.storage`),
under a key of their SHA-256, written before the row naming them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

import magic
from pyramid.response import Response
from sqlalchemy import select

from portal.db import registry_of
from portal.documents.downloads import redirect_to_store
from portal.documents.storage import document_store, file_key, keep_many, read_checked
from portal.i18n import _
from portal.procurement.models import StoredFile
from portal.refusals import INVALID, TOO_LARGE, UNSUPPORTED, FieldError, Refusal

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

#: media type -> (what people call it, the extension a download is given)
ACCEPTED = {
    "application/pdf": ("PDF", "pdf"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("Word", "docx"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("Excel", "xlsx"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "PowerPoint",
        "pptx",
    ),
    "application/vnd.oasis.opendocument.text": ("OpenDocument text", "odt"),
    "application/vnd.oasis.opendocument.spreadsheet": ("OpenDocument spreadsheet", "ods"),
    "application/vnd.oasis.opendocument.presentation": ("OpenDocument presentation", "odp"),
    "application/msword": ("Word 97-2003", "doc"),
    "application/vnd.ms-excel": ("Excel 97-2003", "xls"),
    "image/png": ("PNG image", "png"),
    "image/jpeg": ("JPEG image", "jpg"),
}

#: the main part that makes a zip an Office Open XML document of each type
_OOXML_MAIN_PARTS = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
}

_UNSAFE_IN_NAMES = re.compile(r"[^\w.\- ()]+")


@dataclass(frozen=True)
class Upload:
    """A checked upload: its bytes, the type read from them, a safe name and the hash."""

    filename: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def max_bytes(settings) -> int:
    return int(settings.get("procurement.max_document_bytes", DEFAULT_MAX_BYTES))


def media_type_of(content: bytes) -> str:
    """The media type the bytes themselves show."""
    detected = magic.from_buffer(content[:65536], mime=True)
    if detected in ("application/zip", "application/octet-stream") or detected in (
        _OOXML_MAIN_PARTS.values()
    ):
        return _ooxml_type(content) or detected
    return detected


def _ooxml_type(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    found = [media for part, media in _OOXML_MAIN_PARTS.items() if part in names]
    return found[0] if len(found) == 1 else None


def safe_filename(name: str, media_type: str) -> str:
    """``name`` without its path, control or unusual characters, ending in the extension the
    content calls for (a PDF named ``offer.docx`` is served as ``offer.docx.pdf``)."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_IN_NAMES.sub("_", name).strip(" ._")[:200] or "document"
    extension = ACCEPTED[media_type][1]
    if not name.lower().endswith("." + extension) and not (
        extension == "jpg" and name.lower().endswith(".jpeg")
    ):
        name = f"{name}.{extension}"
    return name


def check_upload(field: str, upload, settings, limit: int | None = None) -> Upload:
    """The file posted as ``field`` (a cgi FieldStorage from ``request.POST``), checked; a
    missing, empty, too large (than ``limit``, or the documents' setting) or unaccepted file is
    refused with a message for that field."""
    if upload is None or not hasattr(upload, "file"):
        raise Refusal(
            INVALID,
            _("Choose a file to upload."),
            errors=[FieldError(field, _("Choose a file to upload."))],
        )
    if limit is None:
        limit = max_bytes(settings)
    content = upload.file.read(limit + 1)
    if not content:
        raise Refusal(
            INVALID,
            _("The file is empty."),
            errors=[FieldError(field, _("The file is empty."))],
        )
    if len(content) > limit:
        size = {"size": f"{limit / 1024 / 1024:.0f}"}
        raise Refusal(
            TOO_LARGE,
            _("The file is larger than ${size} MB.", mapping=size),
            errors=[FieldError(field, _("The file is larger than ${size} MB.", mapping=size))],
        )
    media_type = media_type_of(content)
    if media_type not in ACCEPTED:
        types = {"types": ", ".join(dict.fromkeys(label for label, _ext in ACCEPTED.values()))}
        raise Refusal(
            UNSUPPORTED,
            _("This file is not a document of a type we accept (${types}).", mapping=types),
            errors=[
                FieldError(
                    field,
                    _("This file is not a document of a type we accept (${types}).", mapping=types),
                )
            ],
        )
    return Upload(safe_filename(upload.filename or "", media_type), media_type, content)


def store(dbsession, upload: Upload, now: dt.datetime) -> StoredFile:
    """The stored file with ``upload``'s bytes: the existing one if the same bytes are stored
    already (by SHA-256), a new one otherwise."""
    return store_many(dbsession, [upload], now)[upload.sha256]


def store_many(dbsession, uploads: Iterable[Upload], now: dt.datetime) -> dict[str, StoredFile]:
    """The stored file of each upload's bytes, by SHA-256: one query finds those stored
    already and one flush writes the others, since an opening stores thousands at once."""
    wanted = {upload.sha256: upload for upload in uploads}
    found: dict[str, StoredFile] = {}
    digests = list(wanted)
    for start in range(0, len(digests), 1000):
        chunk = digests[start : start + 1000]
        for stored in dbsession.scalars(select(StoredFile).where(StoredFile.sha256.in_(chunk))):
            found[stored.sha256] = stored
    new = [upload for digest, upload in wanted.items() if digest not in found]
    kept = keep_many(
        document_store(registry_of(dbsession)),
        [(file_key(upload.sha256), upload.content, upload.media_type) for upload in new],
    )
    for upload, (storage_key, in_row) in zip(new, kept, strict=True):
        found[upload.sha256] = StoredFile(
            sha256=upload.sha256,
            media_type=upload.media_type,
            size=len(upload.content),
            content=in_row,
            storage_key=storage_key,
            created_at=now,
        )
        dbsession.add(found[upload.sha256])
    dbsession.flush()
    return found


def content_of(registry, stored: StoredFile) -> bytes:
    """``stored``'s bytes, from wherever they are kept, checked against its SHA-256."""
    return read_checked(
        document_store(registry), stored.storage_key, lambda: stored.content, stored.sha256
    )


def file_response(
    request, stored: StoredFile, filename: str, cache_control: str | None = None
) -> Response:
    """``stored`` sent as ``filename``: a bare 304 for a browser holding these bytes (decided
    before they are read), a redirect where the store hands out short-lived URLs, or the bytes
    read and checked against their hash."""
    headers = download_headers(filename, stored.media_type, stored.sha256)
    if request.method in ("GET", "HEAD") and stored.sha256 in request.if_none_match:
        response = Response(status=304, headers={"ETag": headers["ETag"]})
    else:
        disposition = headers["Content-Disposition"]
        redirect = redirect_to_store(request, stored.storage_key, stored.media_type, disposition)
        if redirect is not None:
            return redirect
        response = Response(body=content_of(request.registry, stored), headers=headers)
    if cache_control is not None:
        response.cache_control = cache_control
    return response


def download_headers(filename: str, media_type: str, sha256: str) -> dict[str, str]:
    """Headers that make a browser save the file as what it is, never render it as a page."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    quoted = re.sub(r'["\\]', "_", ascii_name)
    return {
        "Content-Type": media_type,
        "Content-Disposition": (
            f"attachment; filename=\"{quoted}\"; filename*=UTF-8''{quote(filename)}"
        ),
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{sha256}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
