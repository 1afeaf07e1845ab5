"""Fee schedules: the price of each item of a service, as data with effective dates.

The schedule in force on a day holds, for each item, the entry with the latest
``effective_from`` on or before that day. Bills copy amounts when issued, so a new price
applies to bills issued from then on and never to bills already issued. New prices may only
start today or later: the past stays as it was charged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pyramid.i18n import TranslationString
from sqlalchemy import func, select

from portal.i18n import _
from portal.money import CURRENCY_CODES, Money, MoneyError
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal
from portal.services.models import FeeScheduleEntry

ITEM_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: the largest fee (minor units), the same bound the API puts on a bill
MAX_FEE = 10**12


class FeeNotFound(LookupError):
    """No price is in force for this item on that day."""


def schedule_in_force(dbsession, service_code: str, on: dt.date) -> list[FeeScheduleEntry]:
    """The entries in force ``on`` that day, one per item, in item order."""
    latest = (
        select(
            FeeScheduleEntry.item_code,
            func.max(FeeScheduleEntry.effective_from).label("effective_from"),
        )
        .where(
            FeeScheduleEntry.service_code == service_code,
            FeeScheduleEntry.effective_from <= on,
        )
        .group_by(FeeScheduleEntry.item_code)
        .subquery()
    )
    return list(
        dbsession.scalars(
            select(FeeScheduleEntry)
            .join(
                latest,
                (FeeScheduleEntry.item_code == latest.c.item_code)
                & (FeeScheduleEntry.effective_from == latest.c.effective_from),
            )
            .where(FeeScheduleEntry.service_code == service_code)
            .order_by(FeeScheduleEntry.item_code)
        )
    )


def scheduled_changes(dbsession, service_code: str, after: dt.date) -> list[FeeScheduleEntry]:
    """Prices already decided that start after ``after``."""
    return list(
        dbsession.scalars(
            select(FeeScheduleEntry)
            .where(
                FeeScheduleEntry.service_code == service_code,
                FeeScheduleEntry.effective_from > after,
            )
            .order_by(FeeScheduleEntry.effective_from, FeeScheduleEntry.item_code)
        )
    )


def fee_for(dbsession, service_code: str, item_code: str, on: dt.date) -> Money:
    """The price of ``item_code`` of ``service_code`` in force ``on`` that day."""
    entry = dbsession.scalar(
        select(FeeScheduleEntry)
        .where(
            FeeScheduleEntry.service_code == service_code,
            FeeScheduleEntry.item_code == item_code,
            FeeScheduleEntry.effective_from <= on,
        )
        .order_by(FeeScheduleEntry.effective_from.desc())
        .limit(1)
    )
    if entry is None:
        raise FeeNotFound(f"no fee for {service_code}/{item_code} on {on.isoformat()}")
    return Money(entry.amount_minor, entry.currency)


@dataclass(frozen=True)
class FeeChange:
    service_code: str
    item_code: str
    label: str
    amount: Money
    effective_from: dt.date


def read_fee_change(form, service_codes, today: dt.date) -> FeeChange:
    """A new price from a submitted form, checked field by field (a :class:`Refusal` lists
    every problem at once)."""
    errors: dict[str, TranslationString] = {}
    service_code = str(form.get("service_code", "")).strip()
    if service_code not in service_codes:
        errors["service_code"] = _("Choose a service from the list.")
    item_code = str(form.get("item_code", "")).strip()
    if not ITEM_CODE.match(item_code):
        errors["item_code"] = _(
            "The item code is 1 to 64 lower-case letters, digits, - or _, starting with a "
            "letter or digit."
        )
    label = " ".join(str(form.get("label", "")).split())
    if not label:
        errors["label"] = _("Give the item a label.")
    elif len(label) > 200:
        errors["label"] = _("The label may be at most 200 characters.")
    currency = str(form.get("currency", "")).strip().upper()
    amount = None
    if currency not in CURRENCY_CODES:
        errors["currency"] = _("Choose a currency from the list.")
    else:
        try:
            amount = Money.parse(str(form.get("amount", "")), currency)
        except MoneyError:
            errors["amount"] = _("Write the amount as a number such as 12.50.")
        else:
            if not 0 < amount.minor <= MAX_FEE:
                errors["amount"] = _("The amount must be more than zero.")
    effective_from = None
    try:
        effective_from = dt.date.fromisoformat(str(form.get("effective_from", "")).strip())
    except ValueError:
        errors["effective_from"] = _("Write the date as YYYY-MM-DD.")
    else:
        if effective_from < today:
            errors["effective_from"] = _(
                "A new price starts today or later; bills already issued keep their amounts."
            )
    if errors:
        raise Refusal(
            INVALID,
            _("The price was not changed. Correct what is marked."),
            errors=[FieldError(field, message) for field, message in errors.items()],
        )
    return FeeChange(service_code, item_code, label, amount, effective_from)


def _label_translations(dbsession, change: FeeChange) -> dict[str, str]:
    """The translations the item's label has on its latest other entry, if that entry's
    label is the same: a new price of an item keeps its names in other languages, a new
    label has none until its department writes them."""
    latest = dbsession.scalar(
        select(FeeScheduleEntry)
        .where(
            FeeScheduleEntry.service_code == change.service_code,
            FeeScheduleEntry.item_code == change.item_code,
            FeeScheduleEntry.effective_from != change.effective_from,
        )
        .order_by(FeeScheduleEntry.effective_from.desc())
        .limit(1)
    )
    if latest is None or latest.label != change.label:
        return {}
    return dict(latest.label_translations or {})


def set_fee(dbsession, change: FeeChange, by_user=None) -> FeeScheduleEntry:
    """Record ``change``: a new entry, or a new amount for a price not yet in force that
    starts the same day. The label's translations stay while the label does."""
    entry = dbsession.scalar(
        select(FeeScheduleEntry).where(
            FeeScheduleEntry.service_code == change.service_code,
            FeeScheduleEntry.item_code == change.item_code,
            FeeScheduleEntry.effective_from == change.effective_from,
        )
    )
    if entry is None or entry.label != change.label or not entry.label_translations:
        translations = _label_translations(dbsession, change)
    else:
        translations = entry.label_translations
    if entry is None:
        entry = FeeScheduleEntry(
            service_code=change.service_code,
            item_code=change.item_code,
            effective_from=change.effective_from,
        )
        dbsession.add(entry)
    entry.label_translations = translations
    entry.label = change.label
    entry.amount_minor = change.amount.minor
    entry.currency = change.amount.currency
    entry.created_by_id = by_user.id if by_user is not None else None
    dbsession.flush()
    return entry


def withdraw_fee(dbsession, entry_id: int, today: dt.date) -> FeeScheduleEntry:
    """Remove a price that has not come into force yet; one in force is history and stays."""
    entry = dbsession.get(FeeScheduleEntry, entry_id)
    if entry is None:
        raise Refusal(CONFLICT, _("This price does not exist (any more)."))
    if entry.effective_from <= today:
        raise Refusal(CONFLICT, _("A price already in force cannot be withdrawn."))
    dbsession.delete(entry)
    dbsession.flush()
    return entry
