"""Sending a stored document: exactly the bytes signed and stored when it was issued.

Every kind's download page answers alike: the PDF as an attachment named after the document,
its SHA-256 as the ETag (a browser that has it gets a 304), and the cache rule the caller
chooses for who may see it. Whether the person may have it, and what to say while it is still
being rendered (nothing is stored until the rendering task has run), is the caller's.

The bytes are the one large thing about a document, and a browser that already holds them
asks with ``If-None-Match``: a loader given :func:`bytes_unread_if_cached` leaves them in the
database until the tag is compared, so a 304 never reads them, from the database or the store.
Bytes read are checked against the recorded SHA-256 (``storage.read_checked``); a store that
hands out presigned URLs gets the browser redirected to one instead.
"""

from __future__ import annotations

from collections.abc import Callable

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from sqlalchemy.orm import defer

from portal.documents.models import Document
from portal.documents.storage import document_store, read_checked


def stored(document: Document) -> bool:
    """Whether ``document``'s PDF is stored, read without reading the PDF (the hash is
    recorded with the bytes, or with the key naming them)."""
    return document.sha256 is not None


def bytes_unread_if_cached(request, kind: type[Document]) -> tuple:
    """Loader options for a ``kind`` about to be sent: when the browser may hold it already,
    the PDF is deferred, and read only if its tag does not match."""
    return (defer(kind.pdf),) if request.if_none_match else ()


def document_bytes(registry, document: Document) -> bytes:
    """``document``'s stored PDF, from wherever it is kept, checked against its hash."""
    assert document.sha256 is not None, "a document is read once it is rendered"
    return read_checked(
        document_store(registry), document.storage_key, lambda: document.pdf, document.sha256
    )


def stored_pdf(request, document: Document, filename: str, cache_control: str) -> Response:
    """The response sending ``document``'s stored PDF as ``filename``, or the 304 for a
    browser holding these bytes (which are then not read)."""
    assert document.sha256 is not None, "a document is sent once it is rendered"
    return send_pdf(
        request,
        document.sha256,
        lambda: document_bytes(request.registry, document),
        filename,
        cache_control,
        storage_key=document.storage_key,
    )


def redirect_to_store(
    request, storage_key: str | None, content_type: str, disposition: str
) -> HTTPSeeOther | None:
    """A redirect to a short-lived URL of the object under ``storage_key``, if the store hands
    them out; never cached, since the URL expires."""
    if storage_key is None:
        return None
    url = document_store(request.registry).download_url(storage_key, content_type, disposition)
    if url is None:
        return None
    return HTTPSeeOther(location=url, headers={"Cache-Control": "no-store"})


def send_pdf(
    request,
    sha256: str,
    read: Callable[[], bytes],
    filename: str,
    cache_control: str,
    storage_key: str | None = None,
) -> Response:
    """The stored PDF whose hash is ``sha256``, read by ``read()`` only if the browser does
    not hold it already; a browser that does gets a bare 304 (ETag and cache rule, no body),
    decided before anything else is done. A PDF kept under ``storage_key`` by a store that
    hands out short-lived URLs is a 303 to one (not cached: the URL expires)."""
    if request.method in ("GET", "HEAD") and sha256 in request.if_none_match:
        response = Response(status=304)
        response.headers["ETag"] = f'"{sha256}"'
        response.headers["Cache-Control"] = cache_control
        return response
    disposition = f'attachment; filename="{filename}"'
    redirect = redirect_to_store(request, storage_key, "application/pdf", disposition)
    if redirect is not None:
        return redirect
    # conditional: webob answers HEAD and Range requests from the body
    response = Response(
        body=read(),
        content_type="application/pdf",
        content_disposition=disposition,
        conditional_response=True,
    )
    response.headers["ETag"] = f'"{sha256}"'
    response.headers["Cache-Control"] = cache_control
    return response
