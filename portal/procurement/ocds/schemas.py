"""The project's own OCDS 1.1 JSON Schemas (draft 4), shipped with the code: no package
ships the official files and nothing may be downloaded at build or test time. ocdsmerge
reads its merge rules from the release schema given as a dict, so it never goes online."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from ocdsmerge import Merger

RELEASE = "release-schema.json"
RELEASE_PACKAGE = "release-package-schema.json"
RECORD_PACKAGE = "record-package-schema.json"


def schema(name: str) -> dict:
    return json.loads(files(__package__).joinpath("schema", name).read_text("utf-8"))


@cache
def merger() -> Merger:
    """One merger for the life of the process: its rules come from the release schema."""
    return Merger(schema=schema(RELEASE))


def compile_releases(releases: list[dict]) -> dict:
    return merger().create_compiled_release(releases)
