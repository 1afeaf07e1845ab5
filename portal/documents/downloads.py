"""Sending a stored document: exactly the bytes signed and stored when it was issued.

Every kind's download page answers alike: the PDF as an attachment named after the document,
its SHA-256 as the ETag (a browser that has it gets a 304), and the cache rule the caller
chooses for who may see it. Whether the person may have it, and what to say while it is still
being rendered (nothing is stored until the rendering task has run), is the caller's.

The bytes are the one large thing about a document, and a browser that already holds them
asks with ``If-None-Match``: a loader given :func:`bytes_unread_if_cached` leaves them in the
database until the tag is compared, so a 304 never reads them.
"""

from __future__ import annotations

from collections.abc import Callable

from pyramid.response import Response
from sqlalchemy.orm import defer

from portal.documents.models import Document


def stored(document: Document) -> bool:
    """Whether ``document``'s PDF is stored, read without reading the PDF (the two columns
    are written together)."""
    return document.sha256 is not None


def bytes_unread_if_cached(request, kind: type[Document]) -> tuple:
    """Loader options for a ``kind`` about to be sent: when the browser may hold it already,
    the PDF is deferred, and read only if its tag does not match."""
    return (defer(kind.pdf),) if request.if_none_match else ()


def stored_pdf(request, document: Document, filename: str, cache_control: str) -> Response:
    """The response sending ``document``'s stored PDF as ``filename``, or the 304 for a
    browser holding these bytes (which are then not read)."""
    sha256, pdf = document.sha256, lambda: document.pdf
    assert sha256 is not None, "a document is sent once it is rendered"
    return send_pdf(request, sha256, pdf, filename, cache_control)


def send_pdf(
    request, sha256: str, read: Callable[[], bytes | None], filename: str, cache_control: str
) -> Response:
    """The stored PDF whose hash is ``sha256``, read by ``read()`` only if the browser does
    not hold it already; a browser that does gets a bare 304 (ETag and cache rule, no body),
    decided before anything else is done."""
    if request.method in ("GET", "HEAD") and sha256 in request.if_none_match:
        response = Response(status=304)
        response.headers["ETag"] = f'"{sha256}"'
        response.headers["Cache-Control"] = cache_control
        return response
    pdf = read()
    assert pdf is not None, "a document's hash and bytes are stored together"
    # conditional: webob answers HEAD and Range requests from the body
    response = Response(
        body=pdf,
        content_type="application/pdf",
        content_disposition=f'attachment; filename="{filename}"',
        conditional_response=True,
    )
    response.headers["ETag"] = f'"{sha256}"'
    response.headers["Cache-Control"] = cache_control
    return response
