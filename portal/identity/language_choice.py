"""Which language a person reads the portal in, and the picker every page has to change it.

The language is, first, the one chosen in this browser (a cookie the picker sets), then the
signed-in person's account language (which their receipts, certificates and e-mails are
written in too), then the first the browser's Accept-Language asks for that the portal
offers, then the portal's default. Choosing one while signed in changes the account's as
well, so pages, e-mails and documents stay in one language.

The cookie holds nothing but a language code; it lets a visitor who is not signed in keep a
language without a session (a page shown to them writes nothing on the server).
"""

from __future__ import annotations

import datetime as dt
import logging

from pyramid.events import BeforeRender
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from portal.i18n import Language, _, document_localizer, offered_languages
from portal.identity.landing import came_from, return_path
from portal.identity.requests import IdentifiedRequest
from portal.identity.sessions import COOKIE_NAME as SESSION_COOKIE
from portal.identity.sessions import SETTINGS
from portal.refusals import MALFORMED, Refusal
from portal.security import PUBLIC
from portal.templating import renders_a_page

log = logging.getLogger(__name__)

COOKIE_NAME = "portal_language"
COOKIE_LIFETIME = dt.timedelta(days=365)


def chosen_language(request: IdentifiedRequest) -> Language | None:
    """The offered language chosen in this browser, if any."""
    return offered_languages(request.registry).get(request.cookies.get(COOKIE_NAME))


def browser_language(request: IdentifiedRequest) -> Language:
    """The language for someone the portal knows nothing about yet: their choice in this
    browser, else their browser's Accept-Language, else the portal's default."""
    languages = offered_languages(request.registry)
    return (
        chosen_language(request)
        or languages.from_accept_language(request.accept_language)
        or languages.default
    )


def account_language(request: IdentifiedRequest) -> Language | None:
    """The signed-in person's account language, if offered. A request without the session's
    cookie has nobody signed in: its session is not even looked at."""
    if SESSION_COOKIE not in request.cookies:
        return None
    person = request.person
    return None if person is None else offered_languages(request.registry).get(person.locale)


def page_language(request: IdentifiedRequest) -> Language:
    """The language of this request's answer (see the module's docstring for the order)."""
    return chosen_language(request) or account_language(request) or browser_language(request)


def page_locale(request: IdentifiedRequest) -> str:
    """Pyramid's locale negotiator: the page language's code, which names its catalogue;
    the answer says which language it is in (``Content-Language``)."""
    language = page_language(request)
    request.add_response_callback(
        lambda request, response: response.headers.setdefault("Content-Language", language.tag)
    )
    return language.code


@view_config(route_name="choose_language", request_method="POST", permission=PUBLIC)
def choose_language(request: IdentifiedRequest):
    """The picker's answer: remember the language in this browser and, for a signed-in
    person, in their account; then back to the page the picker was on (a path on this site
    only, else the start page)."""
    language = offered_languages(request.registry).get(request.POST.get("language"))
    if language is None:
        raise Refusal(MALFORMED, _("Choose one of the languages offered."))
    back = return_path(request.POST.get("next")) or request.route_path("home")
    if request.user is not None and request.user.locale != language.code:
        request.user.locale = language.code
        log.info("account language set to %s", language.code)
        # in the language just chosen: the request's own is the one it came in
        request.session.flash(
            document_localizer(language.code).translate(
                _(
                    "Your pages, e-mails and documents are now written in ${language}.",
                    mapping={"language": language.name},
                )
            )
        )
    response = HTTPSeeOther(back)
    response.set_cookie(
        COOKIE_NAME,
        language.code,
        max_age=int(COOKIE_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.registry[SETTINGS].secure,
    )
    return response


def add_language_return(event) -> None:
    """Where the picker on a page brings the person back to: the page itself, or for a page
    answering a form, the page the form was on (``""``: the start page)."""
    if not renders_a_page(event):
        return
    request = event["request"]
    try:
        back = came_from(request)
    except UnicodeDecodeError:  # an address that is not UTF-8: refused, on a page of its own
        back = None
    event["language_return"] = back or ""


def includeme(config) -> None:
    config.add_route("choose_language", "/language")
    config.set_locale_negotiator(page_locale)
    config.add_subscriber(add_language_return, BeforeRender)
