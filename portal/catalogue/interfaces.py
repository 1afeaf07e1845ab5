"""What a public service is to the portal: one interface every service plugin implements.

A city adds its own service by writing a :class:`PublicService` and registering it with
``config.add_public_service(...)`` in its own ``includeme``; the core does not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pyramid.i18n import TranslationString

from portal.money import Money

TAX = "tax"
UTILITY = "utility"
APPLICATION = "application"


@dataclass(frozen=True)
class BillLineInput:
    """One line of a bill to issue: what a service's fee comes to, and what billing bills.
    ``description`` may be a catalogue message, kept in every language
    (:func:`portal.localized.texts`); ``description_translations`` are given ones."""

    description: str
    amount: Money
    description_translations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormField:
    """One field of a service's application form, validated by the service."""

    name: str
    label: TranslationString
    kind: str = "text"  # text | choice | date | number
    required: bool = True
    choices: tuple[tuple[str, TranslationString], ...] = ()
    hint: TranslationString | None = None
    max_length: int = 200


@dataclass(frozen=True)
class ServiceInfo:
    code: str
    name: TranslationString
    description: TranslationString
    department_code: str
    kind: str
    #: what a citizen needs to have ready, shown on the service's page
    requirements: tuple[TranslationString, ...] = ()
    form: tuple[FormField, ...] = field(default_factory=tuple)
    requires_approval: bool = False
    #: what is issued when the work is done ("certificate"), if anything
    issues: str | None = None
    #: how the amount is set, for services not priced from the fee schedule (taxes, utilities)
    cost_explanation: TranslationString | None = None
    #: shown in the citizens' catalogue; False for a service billed only inside another
    #: feature's own flow (a tender's bid fee), which nobody applies for on its own
    listed: bool = True
    #: priced from the fee schedule though not listed (a tender complaint's fee): its
    #: prices are set on the administrators' fees page all the same
    fee_schedule: bool = False


class PublicService(Protocol):
    info: ServiceInfo

    def validate(
        self, data: dict[str, str], today: dt.date
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(cleaned values, errors by field name) for an application form's data, sent on the
        day ``today`` (a date may not be in the future, a start not in the past)."""

    def fee(self, dbsession, cleaned: dict[str, str], on: dt.date) -> list[BillLineInput]:
        """The bill lines for this request, from the fee schedule in force ``on`` that day."""


def add_public_service(config, service: PublicService) -> None:
    """Register ``service`` in the catalogue (a Pyramid directive). Two services registered
    under one code are a configuration conflict, reported when the configuration commits."""

    def register():
        config.registry.setdefault("public_services", {})[service.info.code] = service

    config.action(("public_service", service.info.code), register)


def public_services(registry) -> dict[str, PublicService]:
    return registry.get("public_services", {})


def public_service(registry, code: str) -> PublicService | None:
    return public_services(registry).get(code)
