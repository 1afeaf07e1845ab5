"""Times a buyer types: a local date and time of day in the portal's timezone, kept as aware UTC.

Twice a year a local time of day is not one instant. In the spring-forward gap (02:00-03:00
in Europe/Ljubljana on the last Sunday of March) the time never happens; in the fall-back hour
(02:00-03:00 on the last Sunday of October) it happens twice. Both are refused with a message
asking for a time outside the changing hour: a deadline must name one instant that bidders
and the server agree on, and guessing which of two 02:30s the buyer meant is not ours to do.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from portal.dates import date_of, typed_parts
from portal.i18n import _
from portal.refusals import INVALID, FieldError, Refusal

_TIME = re.compile(r"^([01]?[0-9]|2[0-3])[:.]([0-5][0-9])$")


def _refuse(field: str, message) -> Refusal:
    """A refused form whose one bad field is ``field``, for ``message``."""
    return Refusal(INVALID, _("Some answers need fixing."), errors=[FieldError(field, message)])


def local_instant(day: dt.date, time_of_day: dt.time, timezone: ZoneInfo, field: str):
    """The one instant (aware UTC) that ``day`` at ``time_of_day`` names in ``timezone``;
    a time in the gap or in the repeated hour of a daylight-saving change is refused."""
    naive = dt.datetime.combine(day, time_of_day)
    earlier = naive.replace(tzinfo=timezone, fold=0)
    later = naive.replace(tzinfo=timezone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier.astimezone(dt.UTC)
    back = earlier.astimezone(dt.UTC).astimezone(timezone).replace(tzinfo=None)
    if back != naive:
        raise _refuse(
            field,
            _(
                "${time} does not exist on ${day}: the clocks go forward that night. "
                "Choose a time outside the changing hour.",
                mapping={"time": time_of_day.strftime("%H:%M"), "day": day.isoformat()},
            ),
        )
    raise _refuse(
        field,
        _(
            "${time} happens twice on ${day}: the clocks go back that night. "
            "Choose a time outside the changing hour.",
            mapping={"time": time_of_day.strftime("%H:%M"), "day": day.isoformat()},
        ),
    )


def typed_instant(values, field: str, timezone: ZoneInfo) -> dt.datetime | None:
    """The instant typed into ``field`` (a memorable date ``field-day/-month/-year`` and
    ``field-time`` as HH:MM); ``None`` if all are left empty."""
    parts = typed_parts(values, field) or {"day": "", "month": "", "year": ""}
    time_text = values.get(f"{field}-time", "")
    time_text = time_text.strip() if isinstance(time_text, str) else ""
    if not any(parts.values()) and not time_text:
        return None
    try:
        day = date_of(**parts)
    except Refusal as refused:
        raise _refuse(field, refused.message) from None
    match = _TIME.match(time_text)
    if match is None:
        raise _refuse(field, _("Enter the time as hours and minutes, for example 10:00."))
    return local_instant(day, dt.time(int(match[1]), int(match[2])), timezone, field)


def as_values(field: str, instant: dt.datetime | None, timezone: ZoneInfo) -> dict[str, str]:
    """The form values that show ``instant`` again as the local date and time it was typed."""
    if instant is None:
        return {}
    local = instant.astimezone(timezone)
    return {
        f"{field}-day": str(local.day),
        f"{field}-month": str(local.month),
        f"{field}-year": f"{local.year:04d}",
        f"{field}-time": local.strftime("%H:%M"),
    }


def same_time_of_day_after(
    instant: dt.datetime, earliest: dt.datetime, timezone: ZoneInfo
) -> dt.datetime:
    """The first instant at or after ``earliest`` whose local time of day is ``instant``'s: a
    deadline moved on stays at the hour bidders know. A day on which that time does not exist
    or happens twice is skipped."""
    time_of_day = instant.astimezone(timezone).timetz().replace(tzinfo=None)
    day = earliest.astimezone(timezone).date()
    while True:
        try:
            candidate = local_instant(day, time_of_day, timezone, "")
        except Refusal:
            candidate = None
        if candidate is not None and candidate >= earliest:
            return candidate
        day += dt.timedelta(days=1)
