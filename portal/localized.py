"""Texts that come from data rather than the catalogue, in the reader's language: a service's
name and description, a fee's label, a department's name, a bill's description and its lines,
the authority's name.

A translatable column ``x`` has a JSON column ``x_translations`` beside it: the same text in
other languages, by locale name (``{"sl": "...", "zh_Hans": "..."}``), given by the
department that owns the row (the back office's texts page, a bill import's per-language
columns, the API's ``descriptions``). :func:`localized` picks the text for one locale, and is
what every page, document and e-mail shows; it takes a locale name, so a receipt in its
payer's language and a page in its reader's language read the same texts.

A bill the portal writes itself (an application's fee, late interest, a tender's fee) is
written from catalogue messages: :func:`texts` keeps their translation into every language
beside the default text, as it read on the day the bill was issued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from typing import Any

from pyramid.i18n import Localizer, TranslationString, make_localizer
from sqlalchemy import JSON, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import MappedColumn, mapped_column

from portal.i18n import LOCALE_DIR

#: the languages a department may give its texts in, each by its own name, the catalogues'
#: source language first: the languages of the pages (portal.i18n's registry names the same
#: five; a text in a language no page is shown in would never be read)
LANGUAGES = {
    "en": "English",
    "sl": "Slovenščina",
    "pl": "Polski",
    "fr": "Français",
    "zh_Hans": "简体中文",
}
SOURCE_LANGUAGE = "en"
#: the longest text of one language (the longest translatable column, a bill's description)
MAX_TEXT = 300


#: JSON as the database keeps it: JSONB on PostgreSQL (comparable, as the schema check
#: compares defaults), JSON text on SQLite
TRANSLATIONS = JSON().with_variant(JSONB(), "postgresql")


def translations_column() -> MappedColumn[Any]:
    """The ``x_translations`` column of a translatable column ``x``: empty until someone
    gives a translation."""
    return mapped_column(TRANSLATIONS, default=dict, server_default=text("'{}'"))


def language_of(name: str) -> str | None:
    """The language of :data:`LANGUAGES` a locale name or language tag names (``sl``,
    ``zh-Hans``, ``zh_hans``), or None."""
    wanted = name.strip().replace("-", "_").casefold()
    return next((code for code in LANGUAGES if code.casefold() == wanted), None)


@lru_cache(maxsize=64)
def _candidates(locale: str) -> tuple[tuple[str, ...], str | None]:
    """``zh_Hans_CN``, then ``zh_Hans``, then ``zh``: the most precise translation first; and
    the first of them that is one of :data:`LANGUAGES`. Kept per locale name, a page asking
    once a translatable text; bounded, as a locale name may come from outside."""
    parts = locale.replace("-", "_").split("_")
    keys = tuple("_".join(parts[:n]) for n in range(len(parts), 0, -1))
    return keys, next((key for key in keys if key in LANGUAGES), None)


@cache
def _localizer(locale: str) -> Localizer:
    """The catalogue of ``locale`` (read once), or none: untranslated text stays as it is."""
    return make_localizer(locale, [LOCALE_DIR])


def pick(locale: str | None, default: str, translations: Mapping[str, str] | None) -> str:
    """``default`` as a reader of ``locale`` should see it: its department's translation into
    that locale (or its language); else the catalogue's translation of ``default``, which
    translates the texts that are the portal's own messages (the built-in services' names);
    else ``default`` itself, the text in the default language."""
    if not locale:
        return default
    keys, language = _candidates(locale)
    if translations:
        for key in keys:
            found = translations.get(key)
            if found:
                return found
    if not default or language in (None, SOURCE_LANGUAGE):
        return default
    return _localizer(language).translate(TranslationString(default, domain="portal"))


def localized(row: Any, field: str, locale: str | None) -> str:
    """``row.<field>`` in ``locale``, from ``row.<field>_translations`` (see :func:`pick`)."""
    return pick(locale, getattr(row, field), getattr(row, f"{field}_translations", None))


def translate(localizer: Localizer, message: str) -> str:
    """``message`` translated by ``localizer``, with the catalogue messages in its mapping
    translated too ("Vehicle registration: ${category}", the category a message of its own),
    which Pyramid's localizer leaves in the source language."""
    if not isinstance(message, TranslationString):
        return message
    mapping = {
        key: translate(localizer, value) if isinstance(value, TranslationString) else value
        for key, value in (message.mapping or {}).items()
    }
    return localizer.translate(TranslationString(message, mapping=mapping or None))


def message_in(locale: str, message: str) -> str:
    """``message`` (a catalogue message, or text left as it is) in ``locale``, away from any
    request."""
    return translate(_localizer(locale), message)


def in_every_language(write: Callable[[str], str]) -> tuple[str, dict[str, str]]:
    """A text the portal writes itself, as ``write(locale)`` writes it in each language: the
    default text and the translations that differ from it, to keep in a translatable column
    and its ``_translations``; at most :data:`MAX_TEXT` characters each."""
    default = write(SOURCE_LANGUAGE)[:MAX_TEXT]
    found = {}
    for language in LANGUAGES:
        written = write(language)[:MAX_TEXT]
        if language != SOURCE_LANGUAGE and written != default:
            found[language] = written
    return default, found


def texts(
    message: str, translations: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The default text of ``message`` and its translations, to keep in a translatable
    column and its ``_translations``: a catalogue message gives its translation into each
    language whose catalogue has it; ``translations`` given (an import's) come on top."""
    given = {key: value for key, value in (translations or {}).items() if value}
    if not isinstance(message, TranslationString):
        return message, given
    default, found = in_every_language(lambda locale: message_in(locale, message))
    return default, {**found, **given}


def setting(settings: Mapping[str, Any], name: str, locale: str | None) -> str | None:
    """A text setting in ``locale``: ``<name>.<locale>`` (``portal.authority_name.sl``), or
    its language's, beside the default language's ``<name>``. An ini file's keys are read in
    lower case (``receipts.authority_name.zh_hans``): either is found."""
    for key in _candidates(locale)[0] if locale else ():
        found = settings.get(f"{name}.{key}") or settings.get(f"{name}.{key.lower()}")
        if found:
            return found
    return settings.get(name)
