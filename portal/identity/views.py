"""Pages about the signed-in person."""

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from portal.i18n import DOCUMENT_LANGUAGES, _
from portal.identity.pii import national_id_of
from portal.refusals import MALFORMED, Refusal

log = logging.getLogger(__name__)


@view_config(route_name="account", renderer="identity/account.jinja2", permission="account")
def account(request):
    """What the portal knows about me and in which capacities I may act."""
    return {
        "user": request.user,
        "national_id": national_id_of(request, request.user),
        "languages": DOCUMENT_LANGUAGES,
    }


@view_config(route_name="account_language", request_method="POST", permission="account")
def set_document_language(request):
    """The language my receipts and their e-mails are written in, from the next one on."""
    language = request.POST.get("language", "")
    if language not in DOCUMENT_LANGUAGES:
        raise Refusal(MALFORMED, _("Choose one of the languages offered."))
    request.user.locale = language
    log.info("document language set to %s", language)
    request.session.flash(
        request.localizer.translate(
            _(
                "Your receipts will be written in ${language}.",
                mapping={"language": DOCUMENT_LANGUAGES[language]},
            )
        )
    )
    return HTTPSeeOther(request.route_url("account"))
