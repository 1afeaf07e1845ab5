"""The portal's message factory (every user-facing string in Python goes through ``_``), the
languages documents are written in, and a localizer for writing one outside a request."""

from functools import cache
from pathlib import Path

from pyramid.i18n import TranslationStringFactory, make_localizer

_ = TranslationStringFactory("portal")

LOCALE_DIR = str(Path(__file__).resolve().parent / "locale")

#: the languages a person may choose for their receipts and e-mails, by their own name; each
#: other than English (the source language) has a catalogue under portal/locale/
DOCUMENT_LANGUAGES = {"en": "English", "sl": "Slovenščina"}


@cache
def document_localizer(locale: str):
    """Translates into ``locale`` a document written away from any request (a receipt, its
    e-mail), which is in its payer's language rather than the reader's. One per language:
    the catalogues are read once."""
    return make_localizer(locale if locale in DOCUMENT_LANGUAGES else "en", [LOCALE_DIR])
