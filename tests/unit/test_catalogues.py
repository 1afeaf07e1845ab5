"""Every catalogue under portal/locale is complete: each message of the portal (extracted as
``make catalogue`` extracts them, from babel.cfg) is in it, translated in every plural form,
not fuzzy, and with the placeholders of its source. A catalogue that lands later (Polish) is
checked as soon as it is there."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from tests.languages import ROOT, catalogue, catalogue_codes, catalogue_path

#: folders of the repository the extraction need not walk (babel.cfg reads portal/, templates/)
SKIPPED = {"node_modules", "static", "var", "tests", "bench", "deploy", "samples", "assets"}
_BRACES = re.compile(r"\$\{([^}]*)\}")
_PERCENT = re.compile(r"%\(([^)]*)\)[sdif]")


@cache
def portal_messages() -> frozenset[str]:
    """The msgids of the portal's messages (the singular's, for a plural)."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords=DEFAULT_KEYWORDS,
        directory_filter=lambda path: (
            Path(path).name not in SKIPPED and not Path(path).name.startswith(".")
        ),
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return frozenset(found)


def placeholders(text: str) -> set[str]:
    return {f"${{{name}}}" for name in _BRACES.findall(text)} | {
        f"%({name})" for name in _PERCENT.findall(text)
    }


def problems(path: Path, code: str) -> dict[str, list[str]]:
    """What is wrong with the catalogue at ``path``, by kind of problem."""
    po = catalogue(code, path)
    found: dict[str, list[str]] = {"missing": [], "empty": [], "fuzzy": [], "placeholders": []}
    present = set()
    for message in po:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        present.add(ids[0])
        forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.fuzzy:
            found["fuzzy"].append(ids[0])
        if len(ids) > 1 and len(forms) != po.num_plurals:
            found["empty"].append(ids[0])
        if not all(forms):
            found["empty"].append(ids[0])
            continue
        wanted = set().union(*(placeholders(msgid) for msgid in ids))
        if any(placeholders(form) != wanted for form in forms):
            found["placeholders"].append(ids[0])
    for error in po.check():
        message, errors = error
        found["placeholders"].extend(f"{message.id}: {e}" for e in errors)
    found["missing"] = sorted(portal_messages() - present)
    return {kind: items for kind, items in found.items() if items}


@pytest.mark.parametrize("code", catalogue_codes())
def test_the_catalogue_is_complete(code):
    assert problems(catalogue_path(code), code) == {}


def test_the_catalogues_are_found():
    assert "sl" in catalogue_codes()


def test_a_catalogue_missing_a_message_or_with_an_empty_or_fuzzy_one_is_reported(tmp_path):
    """The check above can fail: a copy of the Slovenian catalogue with one message taken
    out, one left untranslated, one marked fuzzy and one losing a placeholder."""
    copy = tmp_path / "portal.po"
    shutil.copy(catalogue_path("sl"), copy)
    text = copy.read_text()
    text = text.replace('msgid "Page not found"\nmsgstr "Strani ni mogoče najti"\n', "", 1)
    text = text.replace(
        'msgid "Skip to main content"\nmsgstr "Preskoči na glavno vsebino"\n',
        'msgid "Skip to main content"\nmsgstr ""\n',
        1,
    )
    text = text.replace(
        '#: portal/services/backoffice.py\nmsgid "The scheduled price was withdrawn."\n',
        '#: portal/services/backoffice.py\n#, fuzzy\nmsgid "The scheduled price was withdrawn."\n',
        1,
    )
    text = text.replace(
        'msgstr "${tax} ${year}, obrok ${n} od ${count}"', 'msgstr "${tax} ${year}, obrok ${n}"', 1
    )
    copy.write_text(text)
    assert problems(copy, "sl") == {
        "missing": ["Page not found"],
        "empty": ["Skip to main content"],
        "fuzzy": ["The scheduled price was withdrawn."],
        "placeholders": ["${tax} ${year}, instalment ${n} of ${count}"],
    }


def test_the_extraction_finds_what_pybabel_extracts(tmp_path):
    """The messages read here are the ones ``make catalogue`` writes into the template."""
    template = tmp_path / "portal.pot"
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run(
        [*pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "_", "-o", str(template), "."],
        cwd=ROOT,
        check=True,
    )
    from babel.messages.pofile import read_po

    with open(template, "rb") as pot:
        extracted = {
            m.id[0] if isinstance(m.id, tuple | list) else m.id for m in read_po(pot) if m.id
        }
    assert extracted == portal_messages()
