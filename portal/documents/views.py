"""The public verify page: anyone holding a document checks it by its code or QR code."""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from portal.documents.issuing import CODE_ALPHABET, display_code
from portal.documents.kinds import document_issuer
from portal.documents.models import Document
from portal.documents.ratelimit import verify_limiter
from portal.i18n import _
from portal.refusals import TOO_MANY, Refusal
from portal.security import PUBLIC

log = logging.getLogger(__name__)


def _normalise(code: str) -> str:
    return "".join(char for char in code.upper() if char.isalnum())[:16]


@view_config(route_name="verify_form", renderer="documents/verify.jinja2", permission=PUBLIC)
def verify_form(request):
    """A form for the code printed on paper; answers with the verify page's address."""
    code = _normalise(request.GET.get("code", ""))
    if code:
        return HTTPSeeOther(request.route_url("verify", code=code))
    return {"result": None}


@view_config(route_name="verify", renderer="documents/verify.jinja2", permission=PUBLIC)
def verify(request):
    """What anyone holding the document may learn: what it is, its number, date, amount if it
    states one, the facts its kind names, who issued it, and whether it is valid (or, for a
    receipt, refunded) or unknown. Nothing personal."""
    client = request.client_addr or "-"
    if not verify_limiter(request.registry).allow(client):
        log.warning("verification rate limit reached")
        raise Refusal(
            TOO_MANY,
            _("Too many checks. Wait a minute and try again."),
            headers={"Retry-After": "60"},
        )
    code = _normalise(request.matchdict["code"])
    document = None
    if len(code) == 10 and all(char in CODE_ALPHABET for char in code):
        document = request.dbsession.scalar(
            select(Document).where(Document.verification_code == code)
        )
    if document is None:
        request.response.status_int = 404
        return {"result": {"status": "unknown", "code": display_code(code) if code else ""}}
    issuer = document_issuer(request.registry)
    kind = issuer.kind(document)
    return {
        "result": {
            "status": "valid",
            "amount": None,
            **kind.verification(document),
            "title": request.localizer.translate(kind.title),
            "number": document.number,
            "issued_at": document.issued_at,
            "authority": kind.authority(document, issuer, request.localizer.locale_name),
            "code": display_code(document.verification_code),
        }
    }
