"""A short English word used in two places that other languages word differently is one
message per context (gettext's msgctxt), in Python (``pgettext``) and in templates
(``pgettext``/``npgettext``), and each context reads in its own words."""

import pytest

from portal.documents.render import _environment
from portal.i18n import document_localizer, pgettext, pluralize_in_context

#: (message, its two contexts, the Polish and French words for each)
PAIRS = [
    (
        "By",
        "who acted",
        "report grouping",
        {"pl": ("Kto", "Według"), "fr": ("Par", "Regrouper par")},
    ),
    ("Name", "person", "thing", {"pl": ("Imię i nazwisko", "Nazwa"), "fr": ("Nom", "Intitulé")}),
    (
        "Change",
        "button",
        "change history column",
        {"pl": ("Zmień", "Zmiana"), "fr": ("Modifier", "Modification")},
    ),
    (
        "Step",
        "step indicator",
        "auction move",
        {"pl": ("Krok", "Ruch"), "fr": ("Étape", "Mouvement")},
    ),
    (
        "Review",
        "payment step",
        "complaint review",
        {"pl": ("Sprawdzenie", "Rozpatrzenie"), "fr": ("Vérification", "Examen")},
    ),
    (
        "Opened",
        "tender state",
        "case opened on",
        {"pl": ("Otwarte", "Data wszczęcia"), "fr": ("Ouverte", "Ouvert le")},
    ),
    (
        "Received",
        "case state",
        "received at",
        {"pl": ("Otrzymana", "Otrzymano"), "fr": ("Reçu", "Reçu le")},
    ),
    (
        "Withdraw",
        "heading",
        "button",
        {"pl": ("Wycofanie", "Wycofaj"), "fr": ("Retrait", "Retirer")},
    ),
]


@pytest.mark.parametrize("locale", ["pl", "fr"])
@pytest.mark.parametrize(("message", "one", "other", "words"), PAIRS)
def test_each_context_of_a_message_reads_in_its_own_words(locale, message, one, other, words):
    localizer = document_localizer(locale)
    translated = (
        localizer.translate(pgettext(one, message)),
        localizer.translate(pgettext(other, message)),
    )
    assert translated == words[locale]


def test_a_template_translates_a_message_in_its_context():
    template = _environment("pl").from_string(
        '{{ pgettext("who acted", "By") }}|{{ pgettext("report grouping", "By") }}'
    )
    assert template.render() == "Kto|Według"


def test_a_message_in_a_context_without_a_translation_reads_in_english():
    localizer = document_localizer("fr")
    assert localizer.translate(pgettext("no such context", "By")) == "By"
    assert (
        pluralize_in_context(localizer, "no such context", "%(n)s step", "%(n)s steps", 1)
        == "%(n)s step"
    )
    assert (
        pluralize_in_context(localizer, "no such context", "%(n)s step", "%(n)s steps", 3)
        == "%(n)s steps"
    )
