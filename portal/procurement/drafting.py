"""Reading the buyer's tender form: what each field may hold, and putting it on the tender.

The whole form is read before anything changes: every bad field is named at once, and a
refused form changes nothing. Amounts are typed in major units ("1,250.00", "1250" or
"1250,50") and kept in minor units without a float. CPV codes are checked for their format
(eight digits, a hyphen and a check digit); the check digit itself is not verified, since its
algorithm is not part of the published vocabulary (Regulation (EC) No 213/2008).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from portal.i18n import _
from portal.money import Money, MoneyError
from portal.procurement.local_times import as_values, typed_instant
from portal.procurement.models import (
    BEST_VALUE,
    LOWEST_PRICE,
    CommitteeSeat,
    Tender,
    TenderCriterion,
    TenderItem,
)
from portal.refusals import INVALID, FieldError, Refusal

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
MAX_ROWS = 50
#: English thousands groups with an optional decimal point: 1,250.00
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
#: digits with at most one decimal point or comma, once thousands separators are gone
_PLAIN = re.compile(r"^[0-9]+([.,][0-9]+)?$")
_CPV = re.compile(r"^[0-9]{8}-[0-9]$")
PERIODS = ("questions_until", "bids_until", "opening_at")


def parse_amount(text: str, currency: str) -> Money:
    """An amount typed in major units, zero or more; a :class:`MoneyError` if it is none.
    A comma is a thousands separator where it groups digits by three before a decimal point
    ("1,250.00"), otherwise a decimal comma ("1250,50"), as :meth:`Money.parse` reads it."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if _GROUPED.match(text):
        text = text.replace(",", "")
    if not _PLAIN.match(text):
        raise MoneyError("not an amount")
    return Money.parse(text, currency)


def parse_quantity(text: str) -> Decimal:
    """A quantity: a positive decimal with at most three decimals (the column's scale)."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite() or value <= 0 or value >= Decimal(10) ** 11:
        raise ValueError("out of range")
    if value != value.quantize(Decimal("0.001")):
        raise ValueError("too many decimals")
    return value


def percentage_points(text: str) -> int | None:
    """A percentage from 0.01 to 10 with at most two decimals ("0.5" or "0,5") in basis
    points (50); None if it is none."""
    try:
        value = Decimal(text.strip().removesuffix("%").strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or not Decimal("0.01") <= value <= 10:
        return None
    if value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


def valid_cpv(code: str) -> bool:
    return bool(_CPV.match(code))


@dataclass(frozen=True)
class ItemInput:
    description: str
    cpv_code: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class CriterionInput:
    name: str
    weight: int


class FormReader:
    """Reads a posted form field by field, collecting what is wrong."""

    def __init__(self, post, currency: str):
        self.post = post
        self.currency = currency
        self.errors: list[FieldError] = []

    def text(self, name: str, limit: int, required: bool = False, label=None) -> str:
        value = self.post.get(name, "")
        value = value.strip() if isinstance(value, str) else ""
        if required and not value:
            self.errors.append(FieldError(name, label or _("Enter this.")))
        elif len(value) > limit:
            self.errors.append(
                FieldError(
                    name, _("Keep this under ${limit} characters.", mapping={"limit": limit})
                )
            )
        return value

    def amount(self, name: str) -> int | None:
        try:
            return parse_amount(self.text(name, 40) or "0", self.currency).minor
        except MoneyError:
            self.errors.append(
                FieldError(
                    name,
                    _(
                        "Enter an amount of zero or more in ${currency}, "
                        "for example 1,250.00 or 1250.",
                        mapping={"currency": self.currency},
                    ),
                )
            )
            return None

    def whole(self, name: str, low: int, high: int, message) -> int | None:
        text = self.text(name, 10)
        if text.isascii() and text.isdigit() and len(text) < 6 and low <= int(text) <= high:
            return int(text)
        self.errors.append(FieldError(name, message))
        return None

    def instant(self, name: str, timezone: ZoneInfo) -> dt.datetime | None:
        try:
            return typed_instant(self.post, name, timezone)
        except Refusal as refused:
            self.errors.extend(refused.errors)
            return None

    def auction(self) -> dict:
        """The auction's fields: whether there is one and its minimum step, an amount above
        zero or a percentage of the bidder's last price from 0.01 to 10 (basis points)."""
        values: dict = {
            "auction_enabled": self.post.get("auction") == "on",
            "auction_step_minor": None,
            "auction_step_basis_points": None,
        }
        if not values["auction_enabled"]:
            return values
        kind = self.post.get("auction_step_kind", "")
        text = self.text("auction_step", 40)
        if kind == "amount":
            try:
                step = parse_amount(text, self.currency).minor
            except MoneyError:
                step = 0
            if step > 0:
                values["auction_step_minor"] = step
                return values
            self.errors.append(
                FieldError(
                    "auction_step",
                    _(
                        "Enter the minimum step as an amount above zero in ${currency}, "
                        "for example 500.00.",
                        mapping={"currency": self.currency},
                    ),
                )
            )
        elif kind == "percent":
            points = percentage_points(text)
            if points is not None:
                values["auction_step_basis_points"] = points
                return values
            self.errors.append(
                FieldError(
                    "auction_step",
                    _(
                        "Enter the minimum step as a percentage from 0.01 to 10 with at most "
                        "two decimals, for example 0.5."
                    ),
                )
            )
        else:
            self.errors.append(
                FieldError(
                    "auction_step_kind",
                    _("Choose whether the minimum step is an amount or a percentage."),
                )
            )
        return values

    def rows(self, prefix: str) -> int:
        text = self.post.get(f"{prefix}_rows", "")
        count = (
            int(text)
            if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) < 6
            else 0
        )
        return min(count, MAX_ROWS)

    def items(self) -> list[ItemInput]:
        found = []
        for n in range(1, self.rows("item") + 1):
            name = f"item-{n}"
            description = self.text(f"{name}-description", 500)
            cpv = self.text(f"{name}-cpv", 20)
            quantity_text = self.text(f"{name}-quantity", 20)
            unit = self.text(f"{name}-unit", 40)
            if not any((description, cpv, quantity_text, unit)):
                continue  # a blank row: nothing to buy there (or removed)
            if not description:
                self.errors.append(FieldError(f"{name}-description", _("Describe what is bought.")))
            if not valid_cpv(cpv):
                self.errors.append(
                    FieldError(
                        f"{name}-cpv",
                        _(
                            "Enter the CPV code as eight digits, a hyphen and the check digit, "
                            "for example 45233252-0."
                        ),
                    )
                )
            if not unit:
                self.errors.append(
                    FieldError(f"{name}-unit", _("Enter the unit, for example m² or pieces."))
                )
            try:
                quantity = parse_quantity(quantity_text)
            except ValueError:
                quantity = None
                self.errors.append(
                    FieldError(
                        f"{name}-quantity",
                        _("Enter a quantity above zero with at most three decimals."),
                    )
                )
            if quantity is not None:
                found.append(ItemInput(description, cpv, quantity, unit))
        return found

    def criteria(self) -> list[CriterionInput]:
        found = []
        for n in range(1, self.rows("criterion") + 1):
            name = f"criterion-{n}"
            label = self.text(f"{name}-name", 200)
            weight_text = self.text(f"{name}-weight", 10)
            if not label and not weight_text:
                continue
            if not label:
                self.errors.append(FieldError(f"{name}-name", _("Name the criterion.")))
            weight = self.whole(f"{name}-weight", 1, 99, _("Enter a whole weight from 1 to 99."))
            if label and weight is not None:
                found.append(CriterionInput(label, weight))
        return found

    def refuse_if_wrong(self) -> None:
        if self.errors:
            raise Refusal(INVALID, _("Some answers need fixing."), errors=self.errors)


def check_periods(reader: FormReader, periods: dict, now: dt.datetime, published: bool) -> None:
    """The periods in order; a published tender's deadline must also be in the future (a
    draft's is checked when it is published). A period left empty or refused is reported
    by whoever read it."""
    questions, bids, opening = (periods.get(name) for name in PERIODS)
    if questions and bids and questions > bids:
        reader.errors.append(
            FieldError("questions_until", _("The questions period must end by the deadline."))
        )
    if bids and opening and opening < bids:
        reader.errors.append(
            FieldError("opening_at", _("The opening may not be before the deadline."))
        )
    if published and bids is not None and bids <= now:
        reader.errors.append(FieldError("bids_until", _("Set a deadline in the future.")))


def read_draft(post, tender: Tender, *, clerks: dict, timezone: ZoneInfo, now: dt.datetime):
    """The draft as the form says it should be, or a refusal naming every bad field.
    ``clerks`` are the users who may sit on a committee, by id."""
    reader = FormReader(post, tender.currency)
    values: dict = {
        "title": reader.text("title", MAX_TITLE, True, _("Give the tender a title.")),
        "description": reader.text("description", MAX_DESCRIPTION),
        "estimated_value_minor": reader.amount("estimated_value"),
        "bid_fee_minor": reader.amount("bid_fee"),
        "deposit_minor": reader.amount("deposit"),
        "items": reader.items(),
        **reader.auction(),
    }
    criterion = post.get("award_criterion", LOWEST_PRICE)
    if criterion not in (LOWEST_PRICE, BEST_VALUE):
        reader.errors.append(FieldError("award_criterion", _("Choose how bids are compared.")))
    values["award_criterion"] = criterion
    values["criteria"] = []
    if criterion == BEST_VALUE:
        price_weight = reader.whole(
            "price_weight", 1, 99, _("Enter the price's weight, a whole number from 1 to 99.")
        )
        criteria = reader.criteria()
        if not criteria:
            reader.errors.append(
                FieldError("criterion-1-name", _("Name at least one quality criterion."))
            )
        elif price_weight is not None and price_weight + sum(c.weight for c in criteria) != 100:
            reader.errors.append(
                FieldError(
                    "price_weight", _("The price's weight and the criteria's must sum to 100.")
                )
            )
        values["price_weight"] = price_weight
        values["criteria"] = criteria
    periods = {name: reader.instant(name, timezone) for name in PERIODS}
    check_periods(reader, periods, now, published=False)
    values.update(periods)
    chosen = post.getall("committee") if hasattr(post, "getall") else []
    members = []
    for member_id in chosen:
        if not (
            member_id.isascii()
            and member_id.isdigit()
            and len(member_id) < 12
            and int(member_id) in clerks
        ):
            reader.errors.append(FieldError("committee", _("Choose members among the clerks.")))
            break
        members.append(clerks[int(member_id)])
    values["committee"] = list(dict.fromkeys(members))
    values["committee_threshold"] = reader.whole(
        "committee_threshold", 2, 99, _("Enter how many members must open the bids, 2 or more.")
    )
    threshold = values["committee_threshold"]
    if (
        threshold is not None
        and len(values["committee"]) >= 2
        and threshold > len(values["committee"])
    ):
        reader.errors.append(
            FieldError(
                "committee_threshold",
                _("The threshold cannot be more than the number of members chosen."),
            )
        )
    reader.refuse_if_wrong()
    return values


def apply_items(tender: Tender, items: list[ItemInput]) -> None:
    tender.items = [
        TenderItem(
            position=n,
            description=item.description,
            cpv_code=item.cpv_code,
            quantity=item.quantity,
            unit=item.unit,
        )
        for n, item in enumerate(items, start=1)
    ]


def apply_draft(tender: Tender, values: dict, now: dt.datetime) -> None:
    """Put what :func:`read_draft` read on the draft."""
    for name in (
        "title",
        "description",
        "estimated_value_minor",
        "bid_fee_minor",
        "deposit_minor",
        "award_criterion",
        "committee_threshold",
        "auction_enabled",
        "auction_step_minor",
        "auction_step_basis_points",
        *PERIODS,
    ):
        setattr(tender, name, values[name])
    apply_items(tender, values["items"])
    criteria = []
    if values["award_criterion"] == BEST_VALUE:
        criteria.append(
            TenderCriterion(position=0, is_price=True, name="Price", weight=values["price_weight"])
        )
        criteria += [
            TenderCriterion(position=n, name=c.name, weight=c.weight)
            for n, c in enumerate(values["criteria"], start=1)
        ]
    tender.criteria = criteria
    kept = {seat.member_id: seat for seat in tender.committee}
    tender.committee = [
        kept.get(member.id) or CommitteeSeat(member=member) for member in values["committee"]
    ]
    tender.updated_at = now


def amount_text(minor: int, currency: str) -> str:
    """Minor units as the form shows them again: 1250.00."""
    return str(Money(minor, currency).decimal())


def form_values(tender: Tender, timezone: ZoneInfo) -> dict:
    """The form's fields filled from ``tender``, as a buyer would type them."""
    values: dict = {
        "title": tender.title,
        "description": tender.description,
        "estimated_value": amount_text(tender.estimated_value_minor, tender.currency),
        "bid_fee": amount_text(tender.bid_fee_minor, tender.currency),
        "deposit": amount_text(tender.deposit_minor, tender.currency),
        "award_criterion": tender.award_criterion,
        "committee_threshold": str(tender.committee_threshold),
        "committee": [str(seat.member_id) for seat in tender.committee],
        "auction": "on" if tender.auction_enabled else "",
        "auction_step_kind": "percent" if tender.auction_step_basis_points else "amount",
        "auction_step": (
            format(Decimal(tender.auction_step_basis_points) / 100, "f")
            if tender.auction_step_basis_points
            else amount_text(tender.auction_step_minor, tender.currency)
            if tender.auction_step_minor
            else ""
        ),
    }
    for name in PERIODS:
        values.update(as_values(name, getattr(tender, name), timezone))
    for n, item in enumerate(tender.items, start=1):
        values[f"item-{n}-description"] = item.description
        values[f"item-{n}-cpv"] = item.cpv_code
        values[f"item-{n}-quantity"] = f"{item.quantity.normalize():f}"
        values[f"item-{n}-unit"] = item.unit
    quality = [c for c in tender.criteria if not c.is_price]
    for c in tender.criteria:
        if c.is_price:
            values["price_weight"] = str(c.weight)
    for n, c in enumerate(quality, start=1):
        values[f"criterion-{n}-name"] = c.name
        values[f"criterion-{n}-weight"] = str(c.weight)
    values["item_rows"] = len(tender.items) + 1
    values["criterion_rows"] = len(quality) + 1
    return values


def posted_values(post, add: str | None = None) -> dict:
    """The form's fields as posted, to show it again; ``add`` ("item" or "criterion") asks
    for one more blank row of that kind."""
    values: dict = {key: value for key, value in post.items() if isinstance(value, str)}
    values["committee"] = post.getall("committee") if hasattr(post, "getall") else []
    for prefix in ("item", "criterion"):
        text = values.get(f"{prefix}_rows", "")
        rows = (
            min(int(text), MAX_ROWS) if text.isascii() and text.isdigit() and len(text) < 6 else 1
        )
        values[f"{prefix}_rows"] = max(1, min(rows + (prefix == add), MAX_ROWS))
    return values
