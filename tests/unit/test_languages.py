"""The languages a deployment offers, read from its settings, and which one a browser's
Accept-Language asks for."""

import datetime as dt

import pytest
from babel.dates import format_date
from webob.acceptparse import create_accept_language_header

from portal.i18n import LANGUAGES, OfferedLanguages, document_localizer, language_tag
from portal.money import Money
from portal.settings import SettingsError


def test_all_five_languages_are_offered_unless_settings_say_otherwise():
    languages = OfferedLanguages({})
    assert [language.code for language in languages.offered] == ["en", "sl", "pl", "fr", "zh_Hans"]
    assert languages.default.code == "en"
    assert [language.tag for language in languages.offered] == ["en", "sl", "pl", "fr", "zh-Hans"]


def test_settings_choose_the_languages_and_the_default():
    languages = OfferedLanguages({"portal.languages": "sl, en", "portal.default_locale": "sl"})
    assert [language.code for language in languages.offered] == ["sl", "en"]
    assert languages.default.code == "sl"
    assert languages.get("fr") is None and languages.get("sl").name == "Slovenščina"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"portal.languages": "en de"}, "portal.languages"),
        ({"portal.languages": "en sl", "portal.default_locale": "fr"}, "portal.default_locale"),
        ({"portal.default_locale": "zh-Hans"}, "portal.default_locale"),
    ],
)
def test_a_language_the_portal_is_not_written_in_stops_it_at_start(settings, named):
    with pytest.raises(SettingsError, match=named):
        OfferedLanguages(settings)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sl-SI,sl;q=0.9,en;q=0.5", "sl"),
        ("de-DE,de;q=0.9,fr;q=0.5,en;q=0.4", "fr"),
        ("zh-CN,zh;q=0.9", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("PL", "pl"),
        ("sl;q=0, pl;q=0.2", "pl"),
        ("de", None),
        ("*", None),
        ("", None),
        ("not a header;;;", None),
        (None, None),
    ],
)
def test_accept_language_finds_the_offered_language_the_browser_prefers(header, expected):
    found = OfferedLanguages({}).from_accept_language(create_accept_language_header(header))
    assert (found.code if found else None) == expected


def test_accept_language_finds_only_languages_offered():
    languages = OfferedLanguages({"portal.languages": "en sl"})
    assert languages.from_accept_language(create_accept_language_header("fr, sl;q=0.5")).code == (
        "sl"
    )


def test_each_language_formats_money_and_dates_as_its_readers_write_them():
    """Babel knows every code the portal uses (``zh_Hans`` included) as a locale."""
    amount, day = Money(1234_50, "EUR"), dt.date(2026, 3, 5)
    shown = {
        code: (amount.format(code), format_date(day, "long", locale=code)) for code in LANGUAGES
    }
    assert shown == {
        "en": ("€1,234.50", "March 5, 2026"),
        "sl": ("1.234,50\xa0€", "5. marec 2026"),
        "pl": ("1\xa0234,50\xa0€", "5 marca 2026"),
        "fr": ("1\u202f234,50\xa0€", "5 mars 2026"),
        "zh_Hans": ("€1,234.50", "2026年3月5日"),
    }


def test_a_language_the_portal_does_not_know_reads_in_english():
    from portal.i18n import _

    assert document_localizer("sl").translate(_("Receipt")) == "Potrdilo o plačilu"
    assert document_localizer("xx").translate(_("Receipt")) == "Receipt"
    assert language_tag("zh_Hans") == "zh-Hans" and language_tag("sl") == "sl"
