"""A department's texts in each language: its own name, its services' names and descriptions,
and the labels of their fees in force or scheduled. The department's clerks (and the
administrators) write them on the department's texts page; every page, document and e-mail
then shows each reader the text of their language (:mod:`portal.localized`).

Each text is one field per language; a field left empty gives no translation, and the reader
of that language reads the portal's own translation of the default text, if the catalogue has
one, else the default text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from pyramid.i18n import TranslationString
from sqlalchemy import select

from portal.catalogue.interfaces import public_services
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.models import Department
from portal.localized import LANGUAGES, SOURCE_LANGUAGE, pick
from portal.refusals import INVALID, FieldError, Refusal
from portal.services import fees

#: the longest name and fee label (their columns' length) and description
MAX_NAME = 200
MAX_DESCRIPTION = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Text:
    """One translatable text of a row: what it is (``label``), its default text and the
    translations it has, read from and written to ``row.<field>_translations``."""

    key: str
    label: TranslationString
    default: str
    row: Any
    field: str
    max_length: int = MAX_NAME
    multiline: bool = False

    @property
    def translations(self) -> dict[str, str]:
        return getattr(self.row, f"{self.field}_translations") or {}

    def name(self, language: str) -> str:
        """The form field of this text in ``language``."""
        return f"{self.key}.{language}"

    def fallback(self, language: str) -> tuple[str, str]:
        """What a reader of ``language`` reads while the field is empty, and the language it
        is written in: the catalogue's translation of the default text, or the default."""
        text = pick(language, self.default, None)
        return text, language if text != self.default else SOURCE_LANGUAGE


@dataclass(frozen=True)
class TextGroup:
    """The texts of one thing (the department, a service, a fee), under one heading."""

    heading: str
    texts: list[Text]


def department_texts(dbsession, registry, department: Department, today: dt.date, locale: str):
    """The groups of texts the department owns, its own name first, headed in ``locale``."""
    groups = [
        TextGroup(
            pick(locale, department.name, department.name_translations),
            [Text("department.name", _("Name"), department.name, department, "name")],
        )
    ]
    plugins = public_services(registry)
    services = dbsession.scalars(
        select(Service).where(Service.department_id == department.id).order_by(Service.code)
    )
    for service in services:
        plugin = plugins.get(service.code)
        heading = pick(locale, service.name, service.name_translations)
        default_name = str(plugin.info.name) if plugin else service.name
        texts = [Text(f"service.{service.code}.name", _("Name"), default_name, service, "name")]
        if plugin is not None:
            texts.append(
                Text(
                    f"service.{service.code}.description",
                    _("Description"),
                    str(plugin.info.description),
                    service,
                    "description",
                    MAX_DESCRIPTION,
                    multiline=True,
                )
            )
        groups.append(TextGroup(heading, texts))
        entries = fees.schedule_in_force(dbsession, service.code, today)
        entries += fees.scheduled_changes(dbsession, service.code, today)
        for entry in entries:
            groups.append(
                TextGroup(
                    f"{heading} · {pick(locale, entry.label, entry.label_translations)}",
                    [
                        Text(
                            f"fee.{entry.id}.label",
                            _(
                                "Label of the fee ${item} from ${day}",
                                mapping={
                                    "item": entry.item_code,
                                    "day": entry.effective_from.isoformat(),
                                },
                            ),
                            entry.label,
                            entry,
                            "label",
                        )
                    ],
                )
            )
    return groups


def read_texts(groups: list[TextGroup], form) -> list[tuple[Text, dict[str, str]]]:
    """Every text with its translations as the form gives them, checked (a :class:`Refusal`
    names every field in error): spaces tidied, an empty field no translation."""
    errors, found = [], []
    for group in groups:
        for text in group.texts:
            translations = {}
            for language in LANGUAGES:
                value = form.get(text.name(language), "")
                value = " ".join(value.split()) if isinstance(value, str) else ""
                if len(value) > text.max_length:
                    errors.append(
                        FieldError(
                            text.name(language),
                            _("At most ${length} characters.", mapping={"length": text.max_length}),
                        )
                    )
                elif _CONTROL.search(value):
                    errors.append(
                        FieldError(text.name(language), _("Control characters are not allowed."))
                    )
                elif value:
                    translations[language] = value
            found.append((text, translations))
    if errors:
        raise Refusal(INVALID, _("Nothing was saved. Correct what is marked."), errors=errors)
    return found


def save_texts(found: list[tuple[Text, dict[str, str]]]) -> list[str]:
    """Keep the texts read; the keys of those that changed."""
    changed = []
    for text, translations in found:
        if translations != text.translations:
            setattr(text.row, f"{text.field}_translations", translations)
            changed.append(text.key)
    return changed
