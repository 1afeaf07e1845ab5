"""Reading API requests: the JSON body, field checks, and the one way a request is refused.

Field checks collect every problem at once and answer 422 with an ``errors`` list of
``{"pointer", "detail"}`` (RFC 9457's extension example). Messages never repeat the value
sent: it may be a national identifier.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from portal.money import CURRENCY_CODES

MAX_BODY_BYTES = 64 * 1024
MAX_LINES = 100
#: the largest amount of one line or one bill, in minor units (ten thousand million)
MAX_AMOUNT = 10**12
MAX_TEXT = 300
MAX_NUMBER = 64
MAX_IDENTIFIER = 64

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: C0 and C1 control characters and DEL; the OpenAPI document's ``Text`` says the same
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Problem(Exception):
    """A refused API request, answered as RFC 9457 problem details."""

    def __init__(self, status: int, title: str, detail: str = "", **extra):
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def pointer(*parts) -> str:
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class Fields:
    """Checks the members of one JSON object, noting every problem under its JSON pointer."""

    def __init__(self, data, *path, errors: list[dict] | None = None):
        self.path = path
        self.errors = [] if errors is None else errors
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.error("must be an object")

    def error(self, detail: str, *parts) -> None:
        self.errors.append({"pointer": pointer(*self.path, *parts), "detail": detail})

    def only(self, *names: str) -> None:
        for name in self.data:
            if name not in names:
                self.error("is not a known field", str(name)[:64])

    def text(self, name: str, max_length: int):
        value = self.data.get(name)
        if value is None:
            self.error("is required", name)
        elif not isinstance(value, str):
            self.error("must be a string", name)
        elif not value.strip():
            self.error("must not be empty", name)
        elif len(value) > max_length:
            self.error(f"must be at most {max_length} characters", name)
        elif _CONTROL.search(value):
            self.error("must not contain control characters", name)
        else:
            return value.strip()
        return None

    def date(self, name: str):
        value = self.text(name, 10)
        if value is None:
            return None
        try:
            if _DATE.match(value):
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        self.error("must be a date written YYYY-MM-DD", name)
        return None

    def currency(self, name: str):
        value = self.data.get(name)
        if value is None:
            self.error("is required", name)
        elif not isinstance(value, str) or value not in CURRENCY_CODES:
            self.error(f"must be one of {', '.join(sorted(CURRENCY_CODES))}", name)
        else:
            return value
        return None

    def amount(self, name: str):
        """A positive whole number of minor units: never a float, a string or a boolean."""
        value = self.data.get(name)
        if value is None:
            self.error("is required", name)
        elif isinstance(value, bool) or not isinstance(value, int):
            self.error("must be an integer number of minor units (1250 for 12.50)", name)
        elif value <= 0:
            self.error("must be positive", name)
        elif value > MAX_AMOUNT:
            self.error(f"must be at most {MAX_AMOUNT}", name)
        else:
            return value
        return None

    def array(self, name: str, max_items: int) -> list:
        value = self.data.get(name)
        if value is None:
            self.error("is required", name)
        elif not isinstance(value, list):
            self.error("must be an array", name)
        elif not value:
            self.error("must have at least one item", name)
        elif len(value) > max_items:
            self.error(f"must have at most {max_items} items", name)
        else:
            return value
        return []

    def check(self) -> None:
        if self.errors:
            raise Problem(
                422,
                "Invalid request",
                "Some fields are missing or wrong; see errors.",
                errors=self.errors,
            )


def json_object(request) -> dict:
    """The request's body as a JSON object, or the right 4xx."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, "Request too large", f"The body may be at most {MAX_BODY_BYTES} bytes.")
    if request.content_type != "application/json":
        raise Problem(415, "Unsupported media type", "Send the body as application/json.")
    try:
        body = request.json_body
    except (ValueError, RecursionError):
        raise Problem(400, "Malformed JSON", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Problem(
            422,
            "Invalid request",
            "The body must be a JSON object.",
            errors=[{"pointer": "#", "detail": "must be an object"}],
        )
    return body


@dataclass(frozen=True)
class AssessmentRef:
    """The tax assessment a bill is an instalment of: its number, the property, the year, and
    the assessment it corrects, if it is a correction."""

    number: str
    property_ref: str
    year: int
    corrects: str = ""


@dataclass(frozen=True)
class NewBill:
    payer_kind: str
    payer_value: str
    number: str
    description: str
    due_date: dt.date
    currency: str
    lines: list[tuple[str, int]]
    assessment: AssessmentRef | None = None


def _assessment(fields: Fields, body: dict) -> AssessmentRef | None:
    if body.get("assessment") is None:
        return None
    item = Fields(body["assessment"], "assessment", errors=fields.errors)
    item.only("number", "property", "year", "corrects")
    number = item.text("number", MAX_NUMBER)
    property_ref = item.text("property", MAX_NUMBER)
    corrects = item.text("corrects", MAX_NUMBER) if "corrects" in item.data else ""
    year = item.data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        item.error("must be a whole number from 2000 to 2100", "year")
        return None
    if number is None or property_ref is None or corrects is None:
        return None
    return AssessmentRef(number, property_ref, year, corrects)


def bill_request(body: dict) -> NewBill:
    """The fields of a new bill, checked; the payer is still to be found."""
    fields = Fields(body)
    fields.only("payer", "number", "description", "due_date", "currency", "lines", "assessment")
    payer_kind = payer_value = None
    if body.get("payer") is None:
        fields.error("is required", "payer")
    else:
        payer = Fields(body["payer"], "payer", errors=fields.errors)
        payer.only("national_id", "organisation_number")
        kinds = [name for name in ("national_id", "organisation_number") if name in payer.data]
        if len(kinds) == 1:
            payer_kind = kinds[0]
            payer_value = payer.text(payer_kind, MAX_IDENTIFIER)
        elif isinstance(body["payer"], dict):
            payer.error("must name exactly one of national_id or organisation_number")
    number = fields.text("number", MAX_NUMBER)
    description = fields.text("description", MAX_TEXT)
    due_date = fields.date("due_date")
    currency = fields.currency("currency")
    lines = []
    for index, item in enumerate(fields.array("lines", MAX_LINES)):
        line = Fields(item, "lines", index, errors=fields.errors)
        if isinstance(item, dict):
            line.only("description", "amount")
            lines.append((line.text("description", MAX_TEXT), line.amount("amount")))
    if not fields.errors and sum(amount for _, amount in lines) > MAX_AMOUNT:
        fields.error(f"must add up to at most {MAX_AMOUNT}", "lines")
    assessment = _assessment(fields, body)
    fields.check()
    return NewBill(
        payer_kind, payer_value, number, description, due_date, currency, lines, assessment
    )


def cancel_request(body: dict) -> str:
    fields = Fields(body)
    fields.only("reason")
    reason = fields.text("reason", MAX_TEXT)
    fields.check()
    return reason
