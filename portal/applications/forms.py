"""Field checks for application forms, driven by each service's :class:`FormField` list.

A service adds its own rules on top (see :mod:`portal.applications.catalogue`); both fail with
one message per field, which the form shows beside that field.
"""

from __future__ import annotations

from portal.catalogue.interfaces import FormField
from portal.dates import as_text, iso_date, typed_parts
from portal.i18n import _
from portal.refusals import Refusal

#: a number field accepts whole numbers in this range unless a service says otherwise
NUMBER_RANGE = (1, 999)


def raw_values(fields: tuple[FormField, ...], post) -> dict[str, str]:
    """What the citizen typed, for the known fields only, as stripped text; a date's three
    boxes (day, month, year) as one ``YYYY-MM-DD`` answer."""
    values = {}
    for field in fields:
        parts = typed_parts(post, field.name) if field.kind == "date" else None
        if parts is not None:
            values[field.name] = as_text(parts)
            continue
        value = post.get(field.name, "")
        values[field.name] = value.strip() if isinstance(value, str) else ""
    return values


def length_errors(fields: tuple[FormField, ...], values: dict[str, str]) -> dict[str, str]:
    """The only check a draft must pass: nothing longer than the field allows."""
    return {
        field.name: _(
            "Keep this under ${count} characters.", mapping={"count": field.max_length + 1}
        )
        for field in fields
        if len(values.get(field.name, "")) > field.max_length
    }


def check_fields(
    fields: tuple[FormField, ...], values: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(cleaned values, errors) for a submitted form; dates come back as ISO text."""
    cleaned: dict[str, str] = {}
    errors = length_errors(fields, values)
    for field in fields:
        if field.name in errors:
            continue
        value = values.get(field.name, "")
        if not value:
            if field.required:
                errors[field.name] = (
                    _("Choose one.") if field.kind == "choice" else _("Fill this in.")
                )
            continue
        if field.kind == "choice" and value not in {code for code, _label in field.choices}:
            errors[field.name] = _("Choose one of the options.")
        elif field.kind == "date":
            try:
                value = iso_date(value).isoformat()
            except Refusal as refused:
                errors[field.name] = refused.message
                continue
        elif field.kind == "number":
            low, high = NUMBER_RANGE
            if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
                errors[field.name] = _(
                    "Enter a whole number from ${low} to ${high}.",
                    mapping={"low": low, "high": high},
                )
                continue
            value = str(int(value))
        cleaned[field.name] = value
    return cleaned, errors
