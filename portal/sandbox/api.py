"""The merchant-facing JSON API: payments, status queries, refunds, settlement reports.

Every refusal is an RFC 9457 problem document (`application/problem+json`) with a stable `code`, so
a client can act on it; no input reaches a 500.
"""

import re
from datetime import date
from http import HTTPStatus
from urllib.parse import urlsplit

from pyramid.response import Response

from .processor import PaymentRequest, Refused
from .settlement import settlement_csv

PERMISSION = "merchant"
MAX_AMOUNT = 10**12


class Invalid(Refused):
    """A request body whose fields fail their checks; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(422, "invalid_request", "Some fields are missing or invalid.")
        self.errors = errors


def problem(status: int, code: str, detail: str, **extra) -> Response:
    response = Response(status=status, charset="utf-8", content_type="application/problem+json")
    response.json_body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return response


def refused_view(exc, request):
    extra = {"errors": exc.errors} if isinstance(exc, Invalid) else {}
    return problem(exc.status, exc.code, exc.detail, **extra)


def unauthorized_view(request):
    response = problem(401, "unauthorized", "Send the API key as 'Authorization: Bearer <key>'.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="sandbox"'
    return response


def not_found_view(request):
    return problem(404, "not_found", f"Nothing at {request.path}.")


def method_not_allowed_view(request):
    return problem(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}.")


def json_object(request) -> dict:
    try:
        body = request.json_body
    except ValueError:
        raise Refused(400, "malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused(400, "malformed_json", "The request body must be a JSON object.")
    return body


def check_merchant(request, merchant_id) -> None:
    if merchant_id is not None and merchant_id != request.identity:
        raise Refused(403, "merchant_mismatch", "The API key does not belong to this merchant.")


def _text(body, field, errors, max_length, *, pattern=None):
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        errors[field] = "Required; a non-empty string."
    elif len(value) > max_length:
        errors[field] = f"At most {max_length} characters."
    elif pattern and not re.fullmatch(pattern, value):
        errors[field] = "Not in the expected format."
    else:
        return value
    return None


def _amount(body, errors):
    value = body.get("amount")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        errors["amount"] = "Required; a positive integer in minor units (cents)."
        return None
    return value


def _url(body, field, errors):
    value = _text(body, field, errors, 2048)
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors[field] = "An absolute http(s) URL."
    return value


def read_payment_request(request) -> PaymentRequest:
    body = json_object(request)
    errors = {}
    merchant_id = _text(body, "merchant_id", errors, 64)
    values = {
        "reference": _text(body, "reference", errors, 128, pattern=r"[\x21-\x7e]+"),
        "amount": _amount(body, errors),
        "currency": _text(body, "currency", errors, 3, pattern=r"[A-Z]{3}"),
        "description": _text(body, "description", errors, 500),
        "return_url": _url(body, "return_url", errors),
        "notify_url": _url(body, "notify_url", errors),
    }
    if errors:
        raise Invalid(errors)
    check_merchant(request, merchant_id)
    return PaymentRequest(merchant_id=merchant_id, **values)


def create_payment(request):
    payment, created = request.registry.processor.create(read_payment_request(request))
    request.response.status = 201 if created else 200
    return payment


def find_payment(request):
    check_merchant(request, request.GET.get("merchant_id"))
    reference = request.GET.get("reference")
    if not reference:
        raise Refused(400, "reference_required", "Query by ?reference=<merchant reference>.")
    return request.registry.processor.status(request.identity, reference=reference)


def show_payment(request):
    check_merchant(request, request.GET.get("merchant_id"))
    return request.registry.processor.status(request.identity, payment_id=request.matchdict["id"])


def create_refund(request):
    body = json_object(request)
    errors = {}
    amount = _amount(body, errors)
    reference = _text(body, "reference", errors, 128, pattern=r"[\x21-\x7e]+")
    if errors:
        raise Invalid(errors)
    check_merchant(request, body.get("merchant_id"))
    refund, created = request.registry.processor.refund(
        request.identity, request.matchdict["id"], amount, reference
    )
    request.response.status = 201 if created else 200
    return refund


def settlement_report(request):
    check_merchant(request, request.GET.get("merchant_id"))
    day = request.matchdict["day"]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise Refused(400, "invalid_date", "Ask for /v1/settlements/YYYY-MM-DD.csv.")
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Refused(400, "invalid_date", f"{day} is not a calendar date.") from None
    return Response(
        settlement_csv(request.registry.store, parsed),
        content_type="text/csv",
        charset="utf-8",
        content_disposition=f'attachment; filename="settlement-{day}.csv"',
    )


def includeme(config):
    routes = {
        "api.payments": ("/v1/payments", {"POST": create_payment, "GET": find_payment}),
        "api.payment": ("/v1/payments/{id}", {"GET": show_payment}),
        "api.refunds": ("/v1/payments/{id}/refunds", {"POST": create_refund}),
        "api.settlement": ("/v1/settlements/{day}.csv", {"GET": settlement_report}),
    }
    for name, (pattern, views) in routes.items():
        config.add_route(name, pattern)
        for method, view in views.items():
            config.add_view(
                view, route_name=name, request_method=method, renderer="json", permission=PERMISSION
            )
        config.add_view(method_not_allowed_view, route_name=name)
    config.add_view(refused_view, context=Refused)
    config.add_forbidden_view(unauthorized_view)
    config.add_notfound_view(not_found_view)
