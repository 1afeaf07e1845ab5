"""Reading the OCDS API as a data user does, and checking every package against the
project's own OCDS 1.1 schemas (draft 4) with jsonschema."""

from __future__ import annotations

import json

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sqlalchemy import select

from portal.identity.models import User
from portal.procurement.ocds.schemas import RECORD_PACKAGE, RELEASE, RELEASE_PACKAGE, schema

SCHEMAS = {name: schema(name) for name in (RELEASE, RELEASE_PACKAGE, RECORD_PACKAGE)}
REGISTRY = Registry().with_resources(
    (document["id"], Resource.from_contents(document, default_specification=DRAFT4))
    for document in SCHEMAS.values()
)


def errors(document: dict, name: str) -> list[str]:
    validator = Draft4Validator(
        SCHEMAS[name], registry=REGISTRY, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def packages(testapp, reference: str) -> tuple[dict, dict]:
    """The tender's release package and record package, each checked against its schema
    and served as JSON."""
    found = []
    for kind, name in (("releases", RELEASE_PACKAGE), ("record", RECORD_PACKAGE)):
        response = testapp.get(f"/api/v1/ocds/tenders/{reference}/{kind}", status=200)
        assert response.content_type == "application/json"
        assert errors(response.json, name) == []
        found.append(response.json)
    return found[0], found[1]


def tags(package: dict) -> list[list[str]]:
    return [release["tag"] for release in package["releases"]]


def people_in(dbsession, document: dict) -> list[str]:
    """Names and e-mail addresses of every person the portal knows that appear anywhere in
    ``document``."""
    text = json.dumps(document, ensure_ascii=False)
    found = []
    for user in dbsession.scalars(select(User)):
        for value in (user.email, f"{user.given_name} {user.family_name}", user.family_name):
            if value.strip() and value in text:
                found.append(value)
    return found
