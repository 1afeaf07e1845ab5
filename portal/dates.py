"""Dates people type, as USWDS's memorable date: day, month and year in three boxes.

A browser's date picker shows its own order (mm/dd/yyyy in many browsers) whatever the label
says; three labelled boxes read the same everywhere. A field ``name`` arrives as
``name-day``, ``name-month`` and ``name-year``; a link may still carry ``name=YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt

from portal.i18n import _
from portal.refusals import MALFORMED, Refusal
from portal.requests import PortalRequest
from portal.web import EARLIEST_DAY, LATEST_DAY, query_date

PARTS = ("day", "month", "year")
#: the most characters each box takes
WIDTHS = {"day": 2, "month": 2, "year": 4}


def _not_a_date() -> Refusal:
    return Refusal(
        MALFORMED,
        _(
            "Enter a real date: the day, the month and the year in four digits, "
            "for example 31 3 2026."
        ),
    )


def typed_parts(values, name: str) -> dict[str, str] | None:
    """The three boxes of field ``name`` as typed (stripped), ``None`` if none was sent."""
    if not any(f"{name}-{part}" in values for part in PARTS):
        return None
    parts = {}
    for part in PARTS:
        value = values.get(f"{name}-{part}", "")
        parts[part] = value.strip() if isinstance(value, str) else ""
    return parts


def date_of(day: str, month: str, year: str) -> dt.date:
    """The date the three boxes say; a :class:`Refusal` whose message says how to write one
    if they say no date a person can mean."""
    typed = {"day": day, "month": month, "year": year}
    if (
        not all(
            value.isascii() and value.isdigit() and len(value) <= WIDTHS[part]
            for part, value in typed.items()
        )
        or len(year) != 4
    ):
        raise _not_a_date()
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        raise _not_a_date() from None
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise Refusal(MALFORMED, _("Enter a date between 1900 and 9998."))
    return value


def iso_date(text: str) -> dt.date:
    """A date kept as ``YYYY-MM-DD`` text (a form's stored answer), or a :class:`Refusal`."""
    year, _sep, rest = text.partition("-")
    month, _sep, day = rest.partition("-")
    return date_of(day, month, year)


def as_text(parts: dict[str, str]) -> str:
    """Three boxes as one answer to keep: ``YYYY-MM-DD`` (padded) when they are digits,
    else what was typed, so the form shows it again with the message; empty if all are."""
    if not any(parts.values()):
        return ""
    # a hyphen typed in a box would split the answer wrongly: kept as a space, still refused
    cleaned = {part: parts[part].replace("-", " ") for part in PARTS}
    if all(value.isascii() and value.isdigit() for value in cleaned.values()):
        cleaned["day"], cleaned["month"] = cleaned["day"].zfill(2), cleaned["month"].zfill(2)
    return f"{cleaned['year']}-{cleaned['month']}-{cleaned['day']}"


def query_day(request: PortalRequest, name: str) -> dt.date | None:
    """The day asked for by a filter form's memorable date ``name`` (or ``name=YYYY-MM-DD``
    in a link), ``None`` if it is left empty; anything else is refused with a 400 that says
    how to write it."""
    parts = typed_parts(request.GET, name)
    if parts is None:
        return query_date(request, name)
    if not any(parts.values()):
        return None
    return date_of(**parts)
