"""Jinja2 templates from the repository's ``templates/`` folder, with the portal's filters.

Every user-facing string goes through gettext (``_``/``{% trans %}``) into the page's language
(chosen by :mod:`portal.identity.language_choice`); dates are shown in the portal's time zone
and amounts in the reader's locale, both through Babel. A feature adds its own template
globals with a ``BeforeRender`` subscriber from its ``includeme``.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_datetime_format
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from pyramid.events import BeforeRender, subscriber
from pyramid.i18n import Localizer
from pyramid.threadlocal import get_current_request

from portal.i18n import (
    _,
    language_tag,
    offered_languages,
    pluralize_in_context,
    translate_in_context,
)
from portal.localized import localized, setting, translate
from portal.money import babel_locale
from portal.security import PUBLIC

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"


def portal_timezone(request) -> ZoneInfo:
    return ZoneInfo(request.registry.settings.get("portal.timezone", "UTC"))


def locale_name(request) -> str:
    return request.localizer.locale_name or "en"


#: ``when(value, MINUTES)``: the day as ``medium`` writes it, the time to the minute (due
#: times and case histories, where seconds are noise)
MINUTES = "minutes"


def format_when(request, value: dt.datetime | None, format: str = "medium") -> str:
    """A UTC timestamp as the reader should see it: in the portal's zone and their locale."""
    if value is None:
        return ""
    zone, locale = portal_timezone(request), babel_locale(locale_name(request))
    if format == MINUTES:
        local = value.astimezone(zone)
        return (
            str(get_datetime_format("medium", locale=locale))
            .replace("{1}", format_date(local, "medium", locale=locale))
            .replace("{0}", format_time(local, "short", locale=locale))
        )
    return format_datetime(value, format=format, tzinfo=zone, locale=locale)


def format_day(request, value: dt.date | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return _formatted_day(value, format, locale_name(request))


@lru_cache(maxsize=4096)
def _formatted_day(value: dt.date, format: str, locale: str) -> str:
    """A day as Babel writes it, once: lists repeat the same days (due dates) row after row."""
    return format_date(value, format=format, locale=babel_locale(locale))


@dataclass(frozen=True)
class Site:
    """Who publishes the pages, as the banner, header, footer and page titles name it (a
    template global; views' own ``service_name`` values are the service applied for)."""

    authority: str
    service: str
    host: str


def authority_name(settings: dict, locale: str | None = None) -> str:
    """Who runs the portal, as the banner, header, footer and page titles name it, in
    ``locale``: the ``portal.authority_name`` setting (``portal.authority_name.sl`` in
    Slovenian...), else the name printed on receipts."""
    return (
        setting(settings, "portal.authority_name", locale)
        or setting(settings, "receipts.authority_name", locale)
        or "Public services"
    )


def renders_a_page(event) -> bool:
    """Whether a ``BeforeRender`` event is a page's (a template), rather than JSON's (the API,
    the probes), which needs no template globals: working them out would read who is asking
    and in which language, for nothing."""
    return event.get("request") is not None and str(event.get("renderer_name", "")).endswith(
        ".jinja2"
    )


@subscriber(BeforeRender)
def add_globals(event) -> None:
    if not renders_a_page(event):
        return
    request = event["request"]
    settings = request.registry.settings
    locale = locale_name(request)
    event["site"] = Site(
        authority=authority_name(settings, locale),
        service=setting(settings, "portal.service_name", locale)
        or request.localizer.translate(_("Public services payments")),
        host=urlsplit(settings["portal.base_url"]).hostname or "",
    )
    event["when"] = lambda value, format="medium": format_when(request, value, format)
    event["day"] = lambda value, format="medium": format_day(request, value, format)
    event["static"] = lambda path: request.static_path(f"{STATIC}/{path}")
    event["money"] = lambda amount: amount.format(locale_name(request))
    # the page's language as HTML names it, and the languages its picker offers
    event["lang"] = language_tag(locale_name(request))
    event["languages"] = offered_languages(request.registry).offered
    # a text from data (a bill's description, a service's name) in the reader's language,
    # and a message with messages in its mapping (which the localizer leaves in English)
    event["localized"] = lambda row, field="name": localized(row, field, locale)
    event["translated"] = lambda message: translate(request.localizer, message)


def _page_form(translated: str, variables: dict) -> Markup:
    """A message as an autoescaped page prints it: the catalogue's text is trusted, as Jinja's
    newstyle gettext trusts it, and the variables are escaped by Markup's ``%``."""
    return Markup(translated) % variables  # noqa: S704 (the catalogue's text, not the user's)


class PageMessages:
    """The pages' ``gettext`` family, in the language of the request being rendered.

    A template's messages are literals, so what each language makes of them is kept once
    looked up, beside that language's localizer (Pyramid keeps one per language for the
    process): the "My bills" page asked Pyramid's translation machinery for some sixty
    messages a request, a sixth of an empty page's CPU (issue 13). Plurals depend on their
    number and are always asked for. At most ``KEPT`` entries a language are kept (a message
    and its page form are two), in case a template ever translates text that is not a literal.

    What a page prints, a message with no variables, is kept too, as the Markup Jinja's
    newstyle gettext makes of it (:meth:`page_gettext`): Jinja would otherwise wrap, look up,
    mark up and ``%``-format each message again on every page, some fifty times an empty
    "My bills" page.
    """

    KEPT = 20_000
    #: the key a message's page form is kept under, beside the message's translation
    _PAGE_FORM = object()

    def __init__(self) -> None:
        self._kept: weakref.WeakKeyDictionary[Localizer, dict] = weakref.WeakKeyDictionary()

    @staticmethod
    def _localizer() -> Localizer:
        return get_current_request().localizer

    def _looked_up(self, localizer: Localizer, key, translate) -> str:
        kept = self._kept.get(localizer)
        if kept is None:
            kept = self._kept.setdefault(localizer, {})
        try:
            return kept[key]
        except KeyError:
            translated = translate()
            if len(kept) < self.KEPT:
                kept[key] = translated
            return translated

    def gettext(self, message: str) -> str:
        localizer = self._localizer()
        return self._looked_up(
            localizer, message, lambda: localizer.translate(message, domain="portal")
        )

    def pgettext(self, context: str, message: str) -> str:
        localizer = self._localizer()
        return self._looked_up(
            localizer,
            (context, message),
            lambda: translate_in_context(localizer, context, message),
        )

    def page_gettext(self, translate: Callable[..., str]) -> Callable[..., str]:
        """The template global for ``translate`` (``gettext`` or ``pgettext``): Jinja's newstyle
        semantics (the result is Markup under autoescape, always ``%``-formatted with its
        variables, ``pgettext``'s with ``context`` among them), with the page form of a message
        that has no variables kept for the language instead of made again."""

        # Jinja's context comes first and positional-only, so that a message variable may be
        # called ``context`` as in Jinja's own (``{% trans context=… %}``)
        @pass_context
        def page_translate(_jinja: Context, /, *message: str, **variables: Any) -> str:
            # only a message the caller gives no variables prints the same every time
            kept = not variables
            if len(message) == 2:
                variables.setdefault("context", message[0])
            if not _jinja.eval_ctx.autoescape:
                return translate(*message) % variables
            if not kept:
                return _page_form(translate(*message), variables)
            return self._looked_up(
                self._localizer(),
                (self._PAGE_FORM, *message),
                lambda: _page_form(translate(*message), variables),
            )

        return page_translate

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._localizer().pluralize(singular, plural, n, domain="portal")

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return pluralize_in_context(self._localizer(), context, singular, plural, n)


def install_contextual_gettext(config) -> None:
    """Gives the pages' Jinja environment ``pgettext`` and ``npgettext`` beside ``gettext`` and
    ``ngettext`` (which replace pyramid_jinja2's), all in the request's language; ``_``,
    ``gettext`` and ``pgettext`` then print kept page forms (:meth:`PageMessages.page_gettext`)."""
    messages = PageMessages()
    environment = config.get_jinja2_environment()
    environment.install_gettext_callables(
        messages.gettext,
        messages.ngettext,
        newstyle=True,
        pgettext=messages.pgettext,
        npgettext=messages.npgettext,
    )
    # ``_`` straight to the page form, not through the extension's alias of ``gettext``
    gettext = messages.page_gettext(messages.gettext)
    environment.globals.update(
        _=gettext, gettext=gettext, pgettext=messages.page_gettext(messages.pgettext)
    )


def includeme(config) -> None:
    settings = config.get_settings()
    settings.setdefault("jinja2.directories", str(TEMPLATES))
    settings.setdefault("jinja2.i18n.domain", "portal")
    settings.setdefault("jinja2.autoescape", "true")
    settings.setdefault("jinja2.newstyle", "true")
    settings.setdefault("pyramid.default_locale_name", settings.get("portal.default_locale", "en"))
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    # pyramid_jinja2 installs gettext and ngettext only; the same words in different uses
    # need their contexts (msgctxt) too, once the environment exists
    config.action(None, install_contextual_gettext, args=(config,), order=999)
    config.add_translation_dirs("portal:locale/")
    config.include("portal.i18n")
    # gzipped where the browser accepts it; URLs and lifetimes: portal.static_files
    config.add_static_view(
        "static", str(STATIC), cache_max_age=3600, content_encodings=["gzip"], permission=PUBLIC
    )
    config.include("portal.static_files")
