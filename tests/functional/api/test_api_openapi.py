"""The OpenAPI document is valid, public, and describes exactly the API's routes."""

import re

from openapi_spec_validator import validate

from portal.api.validation import Fields
from portal.billing.bills import STATUSES
from portal.billing.state import TRANSITIONS
from portal.money import CURRENCY_CODES
from tests.functional.api.conftest import OPENAPI
from tests.functional.test_route_permissions import route_views


def test_the_document_is_served_to_anyone_and_is_valid_openapi_3_1(testapp):
    response = testapp.get("/api/v1/openapi.json", status=200)
    assert response.content_type == "application/json"
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document == OPENAPI


def test_every_api_route_and_method_is_documented_and_nothing_more(wsgi_app):
    served = set()
    for name, _permission, methods in route_views(wsgi_app):
        pattern = wsgi_app.routes_mapper.get_route(name).pattern
        if pattern.startswith("/api/"):
            path = re.sub(r"\{([^}:]+)[^}]*\}", r"{\1}", pattern)
            methods = [methods] if isinstance(methods, str) else methods or ["GET"]
            served |= {(path, method.lower()) for method in methods}
    documented = {
        (path, method)
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert served == documented


def test_enumerations_follow_the_code():
    schemas = OPENAPI["components"]["schemas"]
    assert schemas["Bill"]["properties"]["status"]["enum"] == list(STATUSES)
    assert set(schemas["PaymentStatus"]["enum"]) == set(TRANSITIONS)
    assert set(schemas["Currency"]["enum"]) == CURRENCY_CODES


def _ecma_match(pattern: str, value: str) -> bool:
    """A JSON Schema pattern as ECMA-262 reads it: ``$`` is the end of the text (Python's
    ``$`` also matches before a final line break)."""
    return re.search(pattern.removesuffix("$") + r"\Z", value) is not None


def test_the_documented_text_rule_is_the_one_the_api_applies():
    """``Text`` in the document and ``Fields.text`` accept the same strings, character by
    character through the Basic Multilingual Plane's first twelve thousand code points."""
    pattern = OPENAPI["components"]["schemas"]["Text"]["pattern"]
    disagree = []
    for character in [chr(code) for code in range(0x3100)] + ["\ufeff", "\U0001f642"]:
        for value in (character, f"a{character}b", f" {character} ", f"{character}\n"):
            fields = Fields({"text": value})
            fields.text("text", 300)
            if _ecma_match(pattern, value) != (not fields.errors):
                disagree.append(value)
    assert disagree == []
