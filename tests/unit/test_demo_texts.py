"""The demo's departments, services, fees and bills read in every language of the portal:
each of their texts has a translation into each other language (portal.scripts.demo_texts)."""

from portal.localized import LANGUAGES, SOURCE_LANGUAGE
from portal.scripts import demo_data
from portal.scripts.demo_texts import TEXTS, translations

OTHERS = {language for language in LANGUAGES if language != SOURCE_LANGUAGE}


def demo_texts() -> set[str]:
    found = set(demo_data.DEPARTMENTS.values())
    found |= {name for _code, name, _department in demo_data.SERVICES}
    found |= {label for _service, _item, label, _amount in demo_data.DEMO_FEES}
    for _service, _suffix, description, lines in (
        demo_data.CITIZEN_BILLS + demo_data.ORGANISATION_BILLS
    ):
        found |= {description} | {text for text, _amount in lines}
    found |= {description for _p, _s, _n, description, _a, _d in demo_data.DEMO_OVERDUE}
    return found


def test_every_demo_text_is_in_every_other_language():
    missing = {
        text: sorted(OTHERS - {k for k, v in TEXTS.get(text, {}).items() if v.strip()})
        for text in demo_texts()
    }
    assert {text: languages for text, languages in missing.items() if languages} == {}


def test_the_demo_has_no_translations_it_does_not_use():
    assert set(TEXTS) == demo_texts()


def test_a_row_gets_a_copy_of_the_translations():
    copy = translations("Water supply")
    copy["sl"] = "changed"
    assert TEXTS["Water supply"]["sl"] == "Oskrba s pitno vodo"
