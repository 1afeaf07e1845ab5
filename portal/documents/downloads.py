"""Sending a stored document: exactly the bytes signed and stored when it was issued.

Every kind's download page answers alike: the PDF as an attachment named after the document,
its SHA-256 as the ETag (a browser that has it gets a 304), and the cache rule the caller
chooses for who may see it. Whether the person may have it, and what to say while it is still
being rendered (``document.pdf`` is None until the rendering task has run), is the caller's.
"""

from __future__ import annotations

from pyramid.response import Response

from portal.documents.models import Document


def stored_pdf(document: Document, filename: str, cache_control: str) -> Response:
    """The response sending ``document``'s stored PDF as ``filename``."""
    assert document.pdf is not None, "a document is sent once it is rendered"
    response = Response(
        body=document.pdf,
        content_type="application/pdf",
        content_disposition=f'attachment; filename="{filename}"',
        conditional_response=True,
    )
    response.etag = document.sha256
    response.cache_control = cache_control
    return response
