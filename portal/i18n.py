"""The portal's message factory (every user-facing string in Python goes through ``_``), the
languages it is written in, which of them a deployment offers, and a localizer for writing a
document outside a request.

A language is known by its code everywhere inside the portal: the catalogue's directory under
``portal/locale/``, Babel's locale name (numbers, money, dates) and what an account stores.
Browsers and HTML speak BCP 47 tags (``<html lang>``, Accept-Language), which differ from the
code for Simplified Chinese (``zh_Hans`` here, ``zh-Hans`` there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyramid.i18n import Localizer, TranslationString, TranslationStringFactory, make_localizer
from pyramid.settings import aslist

from portal.settings import SettingsError

_ = TranslationStringFactory("portal")


def pgettext(context: str, message: str, **mapping: object) -> TranslationString:
    """``message`` in ``context`` (gettext's msgctxt): a short English word used in two places
    that other languages word differently ("By" the person who acted, "By" a report's grouping)
    is two messages, one per context. Babel extracts it as ``pgettext:1c,2``, which ``_``'s
    ``context=`` keyword would not give it."""
    return _(message, mapping=mapping or None, context=context)


LOCALE_DIR = str(Path(__file__).resolve().parent / "locale")


@dataclass(frozen=True)
class Language:
    #: the catalogue's directory, Babel's locale name and what an account stores
    code: str
    #: as its own speakers write it, for the language picker
    name: str
    #: the BCP 47 tag: ``<html lang>``, ``Content-Language``, matched against Accept-Language
    tag: str


#: English is the source language; every other one has its catalogue under portal/locale/<code>/
#: (a language whose catalogue is missing reads in English, formatted for its locale)
SOURCE_LANGUAGE = "en"
LANGUAGES: Mapping[str, Language] = {
    language.code: language
    for language in (
        Language("en", "English", "en"),
        Language("sl", "Slovenščina", "sl"),
        Language("pl", "Polski", "pl"),
        Language("fr", "Français", "fr"),
        Language("zh_Hans", "简体中文", "zh-Hans"),
    )
}


def language_tag(code: str) -> str:
    """The BCP 47 tag of the language ``code`` names (a code the portal does not know is
    written with hyphens, as a tag would be)."""
    language = LANGUAGES.get(code)
    return language.tag if language else code.replace("_", "-")


class OfferedLanguages:
    """The languages a deployment offers (``portal.languages``, codes separated by spaces or
    commas; all of them if unset) and its default (``portal.default_locale``, ``en`` if unset),
    checked once at start-up: a code the portal has no language for stops it with a message
    naming the setting."""

    def __init__(self, settings: Mapping[str, str]):
        codes = aslist(str(settings.get("portal.languages") or "").replace(",", " "))
        unknown = [code for code in codes if code not in LANGUAGES]
        if unknown:
            raise SettingsError(
                f"portal.languages names languages the portal is not written in: "
                f"{', '.join(unknown)} (it knows {', '.join(LANGUAGES)})"
            )
        self.offered: tuple[Language, ...] = tuple(
            LANGUAGES[code] for code in dict.fromkeys(codes or LANGUAGES)
        )
        default = settings.get("portal.default_locale") or SOURCE_LANGUAGE
        if default not in {language.code for language in self.offered}:
            raise SettingsError(
                f"portal.default_locale {default!r} is not among the languages offered "
                f"(portal.languages: {', '.join(language.code for language in self.offered)})"
            )
        self.default = LANGUAGES[default]
        # each language answers to its tag and to its tag's primary subtag ("zh" for zh-Hans:
        # a reader asking for zh-CN or zh-TW reads Simplified Chinese rather than the default)
        self._by_tag: dict[str, Language] = {}
        for language in self.offered:
            for tag in (language.tag, language.tag.split("-")[0]):
                self._by_tag.setdefault(tag.lower(), language)

    def get(self, code: object) -> Language | None:
        """The offered language ``code`` names, or None."""
        return next((language for language in self.offered if language.code == code), None)

    def from_accept_language(self, accept_language) -> Language | None:
        """The offered language a browser's Accept-Language (WebOb's parsed header) prefers,
        by RFC 4647 lookup (``sl-SI`` finds ``sl``), or None if it asks for none of them."""
        found = accept_language.lookup(list(self._by_tag), default="")
        return self._by_tag.get(found.lower()) if found else None


def offered_languages(registry) -> OfferedLanguages:
    """The application's offered languages, read from its settings when it was configured."""
    return registry["languages"]


def includeme(config) -> None:
    config.registry["languages"] = OfferedLanguages(config.get_settings())


@cache
def document_localizer(locale: str):
    """Translates into ``locale`` a document written away from any request (a receipt, its
    e-mail), which is in its payer's language rather than the reader's. One per language:
    the catalogues are read once."""
    return make_localizer(locale if locale in LANGUAGES else SOURCE_LANGUAGE, [LOCALE_DIR])


def translate_in_context(localizer: Localizer, context: str, message: str) -> str:
    """``message`` in ``context`` in ``localizer``'s language: the templates' ``pgettext``."""
    return localizer.translate(TranslationString(message, domain="portal", context=context))


def pluralize_in_context(
    localizer: Localizer, context: str, singular: str, plural: str, n: int
) -> str:
    """The form of ``singular``/``plural`` in ``context`` for ``n``: the templates'
    ``npgettext``. Pyramid's ``pluralize`` knows no context, so it is asked for the
    catalogue's key (gettext's ``context\\x04message``); without an entry the English form
    comes back carrying that key's prefix, which is dropped."""
    translated = localizer.pluralize(
        f"{context}\x04{singular}", f"{context}\x04{plural}", n, domain="portal"
    )
    return translated.removeprefix(f"{context}\x04")
