"""Reading API requests: the JSON body and field checks.

Field checks collect every problem at once and refuse the request (422, see
``portal.refusals``) with an ``errors`` list of ``{"pointer", "detail"}`` (RFC 9457's
extension example). Messages never repeat the value sent: it may be a national identifier.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from pyramid.i18n import TranslationString

from portal.i18n import _
from portal.localized import LANGUAGES, language_of
from portal.money import CURRENCY_CODES
from portal.refusals import INVALID, MALFORMED, TOO_LARGE, UNSUPPORTED, FieldError, Refusal

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


def pointer(*parts) -> str:
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class Fields:
    """Checks the members of one JSON object, noting every problem under its JSON pointer."""

    def __init__(self, data, *path, errors: list[FieldError] | None = None):
        self.path = path
        self.errors = [] if errors is None else errors
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.error(_("must be an object"))

    def error(self, detail: TranslationString, *parts) -> None:
        self.errors.append(FieldError(pointer(*self.path, *parts), detail))

    def only(self, *names: str) -> None:
        for name in self.data:
            if name not in names:
                self.error(_("is not a known field"), str(name)[:64])

    def text(self, name: str, max_length: int):
        value = self.data.get(name)
        if value is None:
            self.error(_("is required"), name)
        elif not isinstance(value, str):
            self.error(_("must be a string"), name)
        elif not value.strip():
            self.error(_("must not be empty"), name)
        elif len(value) > max_length:
            self.error(
                _("must be at most ${length} characters", mapping={"length": max_length}), name
            )
        elif _CONTROL.search(value):
            self.error(_("must not contain control characters"), name)
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
        self.error(_("must be a date written YYYY-MM-DD"), name)
        return None

    def currency(self, name: str):
        value = self.data.get(name)
        if value is None:
            self.error(_("is required"), name)
        elif not isinstance(value, str) or value not in CURRENCY_CODES:
            self.error(
                _(
                    "must be one of ${currencies}",
                    mapping={"currencies": ", ".join(sorted(CURRENCY_CODES))},
                ),
                name,
            )
        else:
            return value
        return None

    def amount(self, name: str):
        """A positive whole number of minor units: never a float, a string or a boolean."""
        value = self.data.get(name)
        if value is None:
            self.error(_("is required"), name)
        elif isinstance(value, bool) or not isinstance(value, int):
            self.error(_("must be an integer number of minor units (1250 for 12.50)"), name)
        elif value <= 0:
            self.error(_("must be positive"), name)
        elif value > MAX_AMOUNT:
            self.error(_("must be at most ${amount}", mapping={"amount": MAX_AMOUNT}), name)
        else:
            return value
        return None

    def translations(self, name: str, max_length: int) -> dict[str, str]:
        """An optional object of texts by language (``{"sl": "...", "zh-Hans": "..."}``), each
        checked as :meth:`text`; keys are locale names or language tags of the portal's
        languages, kept by locale name."""
        value = self.data.get(name)
        if value is None:
            return {}
        texts = Fields(value, *self.path, name, errors=self.errors)
        found = {}
        for key in texts.data:
            language = language_of(key) if isinstance(key, str) else None
            if language is None:
                texts.error(
                    _(
                        "is not one of the languages ${languages}",
                        mapping={"languages": ", ".join(LANGUAGES)},
                    ),
                    str(key)[:64],
                )
                continue
            text = texts.text(key, max_length)
            if text is not None:
                found[language] = text
        return found

    def array(self, name: str, max_items: int) -> list:
        value = self.data.get(name)
        if value is None:
            self.error(_("is required"), name)
        elif not isinstance(value, list):
            self.error(_("must be an array"), name)
        elif not value:
            self.error(_("must have at least one item"), name)
        elif len(value) > max_items:
            self.error(_("must have at most ${count} items", mapping={"count": max_items}), name)
        else:
            return value
        return []

    def check(self) -> None:
        if self.errors:
            raise Refusal(
                INVALID,
                _("Some fields are missing or wrong; see errors."),
                title=_("Invalid request"),
                errors=self.errors,
            )


def json_object(request) -> dict:
    """The request's body as a JSON object, or the right 4xx."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Refusal(
            TOO_LARGE,
            _("The body may be at most ${size} bytes.", mapping={"size": MAX_BODY_BYTES}),
            title=_("Request too large"),
        )
    if request.content_type != "application/json":
        raise Refusal(
            UNSUPPORTED,
            _("Send the body as application/json."),
            title=_("Unsupported media type"),
        )
    try:
        body = request.json_body
        # a lone surrogate ("\ud800") parses, but no database or document can store it: the
        # body is refused as I-JSON (RFC 7493) refuses it
        json.dumps(body, ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise Refusal(
            MALFORMED, _("The body is not valid JSON."), title=_("Malformed JSON")
        ) from None
    if not isinstance(body, dict):
        raise Refusal(
            INVALID,
            _("The body must be a JSON object."),
            title=_("Invalid request"),
            errors=[FieldError("#", _("must be an object"))],
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
    #: (description, amount, the description in other languages) of each line
    lines: list[tuple[str, int, dict[str, str]]]
    assessment: AssessmentRef | None = None
    #: the description in other languages, by locale name
    descriptions: dict[str, str] = field(default_factory=dict)


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
        item.error(_("must be a whole number from 2000 to 2100"), "year")
        return None
    if number is None or property_ref is None or corrects is None:
        return None
    return AssessmentRef(number, property_ref, year, corrects)


def bill_request(body: dict) -> NewBill:
    """The fields of a new bill, checked; the payer is still to be found."""
    fields = Fields(body)
    fields.only(
        "payer",
        "number",
        "description",
        "descriptions",
        "due_date",
        "currency",
        "lines",
        "assessment",
    )
    payer_kind = payer_value = None
    if body.get("payer") is None:
        fields.error(_("is required"), "payer")
    else:
        payer = Fields(body["payer"], "payer", errors=fields.errors)
        payer.only("national_id", "organisation_number")
        kinds = [name for name in ("national_id", "organisation_number") if name in payer.data]
        if len(kinds) == 1:
            payer_kind = kinds[0]
            payer_value = payer.text(payer_kind, MAX_IDENTIFIER)
        elif isinstance(body["payer"], dict):
            payer.error(_("must name exactly one of national_id or organisation_number"))
    number = fields.text("number", MAX_NUMBER)
    description = fields.text("description", MAX_TEXT)
    descriptions = fields.translations("descriptions", MAX_TEXT)
    due_date = fields.date("due_date")
    currency = fields.currency("currency")
    lines = []
    for index, item in enumerate(fields.array("lines", MAX_LINES)):
        line = Fields(item, "lines", index, errors=fields.errors)
        if isinstance(item, dict):
            line.only("description", "descriptions", "amount")
            lines.append(
                (
                    line.text("description", MAX_TEXT),
                    line.amount("amount"),
                    line.translations("descriptions", MAX_TEXT),
                )
            )
    if not fields.errors and sum(amount for _, amount, _ in lines) > MAX_AMOUNT:
        fields.error(_("must add up to at most ${amount}", mapping={"amount": MAX_AMOUNT}), "lines")
    assessment = _assessment(fields, body)
    fields.check()
    return NewBill(
        payer_kind,
        payer_value,
        number,
        description,
        due_date,
        currency,
        lines,
        assessment,
        descriptions,
    )


def cancel_request(body: dict) -> str:
    fields = Fields(body)
    fields.only("reason")
    reason = fields.text("reason", MAX_TEXT)
    fields.check()
    return reason
