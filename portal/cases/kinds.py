"""The kinds of case: what each is called, how long it may take, and where it is decided.

A kind is registered once (``config.add_case_kind(CaseKind(...))``) and its service level read
from the setting ``cases.service_level.<code>`` (``16h``, ``2d``: working time, see
:mod:`portal.cases.working_time`), or its ``default_service_level`` when unset. The feature's
events open and end its cases (:mod:`portal.cases.sources`); the kind says where on the
feature's own pages the clerk decides (``decision_link``), and whether a clerk ends the case
here instead (``closed_by_clerk``: work no feature decides).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyramid.i18n import TranslationString
from pyramid.registry import Registry

from portal.cases.models import Case
from portal.cases.working_time import WorkingCalendar, calendar_from_settings, parse_duration

_KINDS = "case_kinds"
_CALENDAR = "case_calendar"


@dataclass(frozen=True)
class CaseKind:
    code: str
    label: TranslationString
    default_service_level: str = "16h"
    #: the address of the feature's page where the matter is decided, given the request and
    #: the case; None when the case page itself is where the work ends
    decision_link: Callable[[object, Case], str | None] | None = None
    #: a clerk ends the case on its page (no feature announces a decision for it)
    closed_by_clerk: bool = False
    #: whether the clerks' pages name the person or organisation the case concerns; not for
    #: a tender question, whose asker no one at the buyer may learn
    party_shown_to_clerks: bool = True
    #: the people who may not work a case of this kind, given the session and the case: the
    #: clerk who asked for a second clerk's approval is not the one to take it
    barred: Callable[[object, Case], frozenset[int]] | None = None


def barred_from(dbsession, registry: Registry, case: Case) -> frozenset[int]:
    """Who may neither claim ``case`` nor be handed it (see :attr:`CaseKind.barred`)."""
    kind = case_kinds(registry).get(case.kind)
    if kind is None or kind.barred is None:
        return frozenset()
    return kind.barred(dbsession, case)


def add_case_kind(config, kind: CaseKind) -> None:
    """Register ``kind``; its service level setting is checked at start-up."""
    kinds = config.registry.setdefault(_KINDS, {})
    if kind.code in kinds:
        raise ValueError(f"case kind {kind.code!r} is registered twice")
    calendar = config.registry[_CALENDAR]
    service_level(config.get_settings(), kind, calendar)
    kinds[kind.code] = kind


def case_kinds(registry: Registry) -> dict[str, CaseKind]:
    return registry.get(_KINDS, {})


def case_kind(registry: Registry, code: str) -> CaseKind:
    return case_kinds(registry)[code]


def working_calendar(registry: Registry) -> WorkingCalendar:
    return registry[_CALENDAR]


def install_working_calendar(registry: Registry, calendar: WorkingCalendar) -> None:
    registry[_CALENDAR] = calendar


def service_level(settings: Mapping, kind: CaseKind, calendar: WorkingCalendar) -> dt.timedelta:
    text = settings.get(f"cases.service_level.{kind.code}", kind.default_service_level)
    return parse_duration(text, calendar.day_length)


def due_at(registry: Registry, kind: CaseKind, opened_at: dt.datetime) -> dt.datetime:
    """When a case of ``kind`` opened at ``opened_at`` is due."""
    calendar = working_calendar(registry)
    return calendar.add(opened_at, service_level(registry.settings, kind, calendar))


def includeme(config) -> None:
    install_working_calendar(config.registry, calendar_from_settings(config.get_settings()))
    config.add_directive("add_case_kind", add_case_kind)
