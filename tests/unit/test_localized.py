"""Texts from data in the reader's language (portal.localized): the department's own
translation first, else the catalogue's translation of the default text, else the default;
texts the portal writes itself, kept in every language; settings per language."""

from types import SimpleNamespace

import pytest

from portal.i18n import _
from portal.localized import (
    MAX_TEXT,
    in_every_language,
    language_of,
    localized,
    pick,
    setting,
    texts,
)

WATER = {"sl": "Pitna voda", "zh_Hans": "饮用水"}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("sl", "Pitna voda"),
        ("sl_SI", "Pitna voda"),  # a region of the language reads the language's
        ("zh_Hans", "饮用水"),
        ("zh-Hans", "饮用水"),
        ("fr", "Water"),  # none given: the default
        ("en", "Water"),
        (None, "Water"),
    ],
)
def test_the_departments_translation_for_the_locale_else_the_default(locale, expected):
    assert pick(locale, "Water", WATER) == expected


def test_a_default_that_is_a_catalogue_message_reads_as_the_catalogue_translates_it():
    """The built-in services' names are the plugins' messages: a reader of Slovenian reads
    the catalogue's Slovenian unless the department wrote its own."""
    assert pick("sl", "Property tax", {}) == "Davek na nepremičnine"
    assert pick("sl", "Property tax", {"sl": "Nepremičninski davek"}) == "Nepremičninski davek"
    assert pick("en", "Property tax", {}) == "Property tax"
    assert pick("sl", "Water supply, October 2026", None) == "Water supply, October 2026"


def test_localized_reads_a_rows_field_and_its_translations():
    bill = SimpleNamespace(description="Water", description_translations=WATER)
    assert localized(bill, "description", "sl") == "Pitna voda"
    department = SimpleNamespace(name="Revenue Office", name_translations={})
    assert localized(department, "name", "sl") == "Revenue Office"


def test_a_message_is_kept_in_every_language_its_catalogue_has_with_its_inner_messages():
    """An application's fee line names the vehicle's category, a message of its own, which
    the localizer alone would leave in English."""
    message = _("Vehicle registration: ${category}", mapping={"category": _("Passenger car")})
    default, translations = texts(message)
    assert default == "Vehicle registration: Passenger car"
    assert translations["sl"] == "Registracija vozila: Osebni avtomobil"
    assert "en" not in translations


def test_a_plain_text_keeps_the_translations_given_without_empty_ones():
    assert texts("Water", {"sl": "Voda", "fr": ""}) == ("Water", {"sl": "Voda"})
    message = _("Property tax")
    assert texts(message, {"sl": "Davek"})[1]["sl"] == "Davek"  # given ones come on top


def test_texts_written_in_every_language_are_cut_to_a_bills_length():
    default, translations = in_every_language(lambda locale: locale * 400)
    assert len(default) == MAX_TEXT
    assert all(len(text) == MAX_TEXT for text in translations.values())


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sl", "sl"), ("zh-Hans", "zh_Hans"), ("ZH_hans", "zh_Hans"), ("de", None), ("", None)],
)
def test_language_of_a_tag_or_locale_name(name, expected):
    assert language_of(name) == expected


def test_a_setting_per_language_beside_the_default_one():
    settings = {
        "portal.authority_name": "City of Example",
        "portal.authority_name.sl": "Mesto Zgled",
        # an ini file's keys are read in lower case
        "portal.authority_name.zh_hans": "示例市",
    }
    assert setting(settings, "portal.authority_name", "sl") == "Mesto Zgled"
    assert setting(settings, "portal.authority_name", "sl_SI") == "Mesto Zgled"
    assert setting(settings, "portal.authority_name", "zh_Hans") == "示例市"
    assert setting(settings, "portal.authority_name", "fr") == "City of Example"
    assert setting(settings, "portal.authority_name", None) == "City of Example"
    assert setting({}, "portal.authority_name", "sl") is None
