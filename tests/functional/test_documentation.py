"""The README's lists that the code also holds stay the same lists: the environment variables
a deployer sets (portal/settings.py) and the Debian packages the Makefile installs."""

from __future__ import annotations

import re

from portal.settings import ENVIRONMENT, REQUIRED
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text from the heading ``title`` to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", README, re.MULTILINE)
    assert match, f"README has no section {title!r}"
    level = len(match.group(1))
    rest = README[match.end() :]
    following = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Markdown tables in ``text``, as lists of cells."""
    rows = [line.strip().strip("|").split("|") for line in text.splitlines()]
    return [
        [cell.strip() for cell in row]
        for row in rows
        if len(row) > 1 and row[0].strip().startswith("`")
    ]


def documented_variables() -> dict[str, tuple[str, str]]:
    """variable -> (setting, needed) from the README's configuration table."""
    rows = table_rows(section("Configuration"))
    return {
        row[0].strip("`"): (row[1].strip("`"), row[2])
        for row in rows
        if re.fullmatch(r"`[A-Z][A-Z0-9_]*`", row[0])
    }


def test_every_environment_variable_is_documented_with_its_setting():
    documented = documented_variables()
    assert {name: setting for name, (setting, _) in documented.items()} == ENVIRONMENT


def test_the_settings_the_portal_cannot_start_without_are_marked_needed():
    documented = documented_variables()
    needed = {setting for setting, mark in documented.values() if mark == "yes"}
    assert set(REQUIRED) <= needed
    assert {mark for _, mark in documented.values()} <= {"yes", "sandbox", "stripe", ""}


def test_readme_lists_the_debian_packages_the_makefile_installs():
    """Those ``make run`` and ``make test`` install: the system's and the benchmarks' (the suite
    checks the benchmarks' wrk script)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installed = [
        package
        for variable in ("DEBIAN_PACKAGES", "BENCH_DEBIAN_PACKAGES")
        for package in re.search(rf"^{variable} := (.*)$", makefile, re.MULTILINE).group(1).split()
    ]
    listed = [
        package
        for row in table_rows(section("What the machine needs"))
        for package in re.findall(r"`([^`]+)`", row[0])
    ]
    assert sorted(listed) == sorted(installed)
