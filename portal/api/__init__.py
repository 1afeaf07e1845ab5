"""The JSON API for integrations, under ``/api/v1/``.

Services (a utility company, the tax office) call it with an API key to issue and cancel
bills and read their payments; payers call it with their browser session to read their own
bills and payments. The OpenAPI document in ``openapi.json`` describes every route here.
"""

from __future__ import annotations

import json
from importlib.resources import files

from portal.api.auth import request_api_key

SERVICE_FACTORY = "portal.api.auth.service_factory"
SERVICE_BILL_FACTORY = "portal.api.auth.service_bill_factory"

#: routes called with a service's API key (the others use a payer's session)
SERVICE_ROUTES = frozenset(
    {"api_bills", "api_bill", "api_bill_cancel", "api_bill_payments", "api_bank_statements"}
)


def openapi_document() -> dict:
    return json.loads(files(__package__).joinpath("openapi.json").read_text("utf-8"))


def includeme(config) -> None:
    config.add_request_method(request_api_key, "api_key", reify=True)
    config.registry["api_openapi"] = openapi_document()
    config.add_route("api_openapi", "/api/v1/openapi.json")
    config.add_route("api_bills", "/api/v1/bills", factory=SERVICE_FACTORY)
    config.add_route("api_bill", "/api/v1/bills/{public_id}", factory=SERVICE_BILL_FACTORY)
    config.add_route(
        "api_bill_cancel", "/api/v1/bills/{public_id}/cancel", factory=SERVICE_BILL_FACTORY
    )
    config.add_route(
        "api_bill_payments", "/api/v1/bills/{public_id}/payments", factory=SERVICE_BILL_FACTORY
    )
    config.add_route("api_my_bills", "/api/v1/me/bills")
    config.add_route("api_my_payments", "/api/v1/me/payments")
