"""The payment provider interface: what billing needs from a hosted-payment-page PSP.

Billing speaks only these types, so the sandbox and a production provider are interchangeable;
the one in use is named by the dotted-name setting ``billing.provider``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pyramid.path import DottedNameResolver
from pyramid.registry import Registry
from pyramid.settings import asbool

from portal.money import Money
from portal.settings import SettingsError, is_production

DEFAULT_PROVIDER = "portal.billing.providers.sandbox.SandboxProvider"


@dataclass(frozen=True)
class ProviderPayment:
    """The provider's view of one payment."""

    provider_payment_id: str
    reference: str
    status: str
    amount: Money
    refunded: Money
    method: str | None
    failure_reason: str | None


@dataclass(frozen=True)
class StartedPayment:
    provider_payment_id: str
    hosted_url: str


@dataclass(frozen=True)
class ProviderRefund:
    provider_refund_id: str
    provider_payment_id: str
    reference: str
    amount: Money
    status: str


@dataclass(frozen=True)
class ProviderEvent:
    """A notification whose signature and timestamp were verified."""

    event_id: str
    type: str
    created: datetime.datetime
    payment: ProviderPayment
    refund: ProviderRefund | None


@dataclass(frozen=True)
class SettlementLine:
    """One line of a day's payout: ``reference`` is the payment's or, for refunds, the refund's
    reference; ``provider_payment_id`` is always the payment's, so refunds can be matched too."""

    kind: str
    provider_payment_id: str
    reference: str
    amount: Money
    fee: Money
    settled_at: datetime.datetime
    provider_refund_id: str | None = None


class ProviderUnavailable(Exception):
    """Network error, timeout or 5xx: safe to retry, each call being idempotent on a reference."""


class ProviderRefused(Exception):
    """The provider said no (4xx): retrying the same call will not help."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class InvalidNotification(Exception):
    """Bad signature, a timestamp outside the tolerance window, or a body we cannot read."""


class PaymentProvider(Protocol):
    name: str
    origin: str

    def start_payment(
        self, reference: str, amount: Money, description: str, return_url: str, notify_url: str
    ) -> StartedPayment: ...

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime.datetime
    ) -> ProviderEvent: ...

    def query_payment(self, reference: str) -> ProviderPayment | None: ...

    def refund(self, provider_payment_id: str, amount: Money, reference: str) -> ProviderRefund: ...

    def settlement_report(self, day: datetime.date) -> list[SettlementLine]: ...


def payment_provider(registry: Registry) -> PaymentProvider:
    """The provider the application pays through (billing's includeme registers it)."""
    return registry["payment_provider"]


def provider_from_settings(settings: Mapping[str, str]) -> PaymentProvider:
    name = settings.get("billing.provider", DEFAULT_PROVIDER)
    if (
        name == DEFAULT_PROVIDER
        and is_production(settings)
        and not asbool(settings.get("billing.allow_sandbox"))
    ):
        raise SettingsError(
            "billing.provider is the sandbox in a production configuration: name the real "
            "provider (BILLING_PROVIDER), or set billing.allow_sandbox = true for a test system"
        )
    factory = DottedNameResolver().resolve(name)
    return factory.from_settings(settings)
