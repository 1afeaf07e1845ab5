"""Level of assurance: how sure the IdP was of who signed in (AuthnContextClassRef).

Paying and clerk work need a minimum level (settings ``saml.min_loa_pay`` and
``saml.min_loa_clerk``); a lower one is refused with a page that offers to sign in again at
the level needed. A view declares what it needs (``@view_config(..., assurance=CLERK)``) and
the check runs before the view, after its permission and CSRF checks, so no view body can
forget it.
"""

from __future__ import annotations

import logging

from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPForbidden
from pyramid.view import exception_view_config

from portal.i18n import _
from portal.identity.landing import came_from
from portal.web import error_page, wants_json

log = logging.getLogger(__name__)

PAY = "pay"
CLERK = "clerk"


class InsufficientAssurance(HTTPForbidden):
    def __init__(self, required: str):
        super().__init__()
        self.required = required


def require_assurance(request, purpose: str) -> None:
    """Refuse (:class:`InsufficientAssurance`) unless this session's level suffices."""
    config = request.registry["saml"]
    required = config.min_loa_pay if purpose == PAY else config.min_loa_clerk
    if config.loa_rank(request.session.get("loa")) < config.loa_rank(required):
        log.warning("level of assurance too low for %s", purpose)
        raise InsufficientAssurance(required)


def assurance_view(view, info):
    """The view deriver behind the ``assurance`` view option (:data:`PAY` or :data:`CLERK`)."""
    purpose = info.options.get("assurance")
    if purpose is None:
        return view
    if purpose not in (PAY, CLERK):
        raise ConfigurationError(f"assurance must be {PAY!r} or {CLERK!r}, not {purpose!r}")

    def assured(context, request):
        require_assurance(request, purpose)
        return view(context, request)

    return assured


assurance_view.options = ("assurance",)  # type: ignore[attr-defined]


@exception_view_config(InsufficientAssurance)
def insufficient_assurance(exc, request):
    translate = request.localizer.translate
    title = translate(_("A stronger sign-in is needed"))
    detail = translate(
        _(
            "You signed in with a level of assurance that is too low for this. "
            "Sign in again with a stronger method (for example your eID card)."
        )
    )
    if wants_json(request):
        return error_page(request, 403, title, detail)
    request.response.status_int = 403
    from pyramid.renderers import render_to_response

    # Back to where the person was going: the page itself, or the page its form was sent from.
    query = {"next": came_from(request) or "", "loa": exc.required}
    again = request.route_path("saml_login", _query=query)
    return render_to_response(
        "identity/assurance.jinja2",
        {"title": title, "detail": detail, "again": again},
        request=request,
        response=request.response,
    )


def includeme(config) -> None:
    config.add_view_deriver(assurance_view)
