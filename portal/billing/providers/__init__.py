"""The payment provider interface: what billing needs from a hosted-payment-page PSP.

Billing speaks only these types, so the sandbox and a production provider are interchangeable.
The default provider is named by the dotted-name setting ``billing.provider``; further ones
(cards by one, wallets by another) by ``billing.providers``, dotted names separated by spaces
or lines. Each has a ``name`` of its own: a payment records the name of the provider that took
it, and refunds and status queries go back to that provider.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
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
class PaymentLine:
    """One bill of a payment as the provider's page may list it."""

    name: str
    amount: Money


@dataclass(frozen=True)
class StartedPayment:
    provider_payment_id: str
    hosted_url: str


@dataclass(frozen=True)
class ProviderRefund:
    """One refund as the provider has it; ``status`` is ``succeeded``, ``pending`` (or
    ``requires_action``: not given back yet), or ``failed`` (``canceled``)."""

    provider_refund_id: str
    provider_payment_id: str
    reference: str
    amount: Money
    status: str


@dataclass(frozen=True)
class ProviderEvent:
    """A notification whose signature and timestamp were verified: about ``payment``, and
    about one of its refunds (``refund``) or several (``refunds``: a charge's, all of them)."""

    event_id: str
    type: str
    created: datetime.datetime
    payment: ProviderPayment
    refund: ProviderRefund | None
    refunds: tuple[ProviderRefund, ...] = ()


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
    #: what the payer is shown when choosing between providers
    label: str
    #: whether its hosted page lists the bills (``start_payment``'s ``lines``); a provider
    #: that shows the total alone spares the checkout the query for them
    itemised: bool

    def start_payment(
        self,
        reference: str,
        amount: Money,
        description: str,
        return_url: str,
        notify_url: str,
        lines: Sequence[PaymentLine] = (),
        *,
        expires_at: datetime.datetime | None = None,
        locale: str | None = None,
    ) -> StartedPayment:
        """Open the hosted page; ``expires_at``: when the portal gives up on the payment
        (a provider that can closes its page then), ``locale``: the payer's language (the
        portal's code, ``sl`` or ``zh_Hans``), for a provider whose page speaks several."""

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime.datetime
    ) -> ProviderEvent | None:
        """The verified event, or None for a verified event that says nothing of a payment
        (acknowledged, nothing done); :class:`InvalidNotification` if it cannot be verified."""

    def query_payment(
        self, reference: str, provider_payment_id: str | None = None
    ) -> ProviderPayment | None: ...

    def refund(self, provider_payment_id: str, amount: Money, reference: str) -> ProviderRefund: ...

    def settlement_report(self, day: datetime.date) -> list[SettlementLine]: ...


class Providers(Mapping[str, PaymentProvider]):
    """The providers configured, by name; the first is the default, which a payment is
    created with and the payer keeps unless they choose another."""

    def __init__(self, providers: Sequence[PaymentProvider]):
        self._by_name: dict[str, PaymentProvider] = {}
        for provider in providers:
            if provider.name in self._by_name:
                raise SettingsError(f"two payment providers are named {provider.name!r}")
            self._by_name[provider.name] = provider
        self.default = providers[0]

    def __getitem__(self, name: str) -> PaymentProvider:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


def payment_provider(registry: Registry) -> PaymentProvider:
    """The default provider (billing's includeme registers it)."""
    return registry["payment_provider"]


def payment_providers(registry: Registry) -> Providers:
    """Every provider configured, by name."""
    return registry["payment_providers"]


def provider_of(registry: Registry, name: str) -> PaymentProvider:
    """The provider named ``name`` (a payment's); one no longer configured cannot be asked
    now, which its callers treat as they treat one that cannot be reached."""
    try:
        return payment_providers(registry)[name]
    except KeyError:
        raise ProviderUnavailable(f"payment provider {name!r} is not configured") from None


def providers_from_settings(settings: Mapping[str, str]) -> Providers:
    """``billing.provider`` (the default) and each of ``billing.providers``."""
    names = [settings.get("billing.provider", DEFAULT_PROVIDER)]
    for name in str(settings.get("billing.providers", "")).split():
        if name not in names:
            names.append(name)
    return Providers([provider_from_settings(settings, name) for name in names])


def provider_from_settings(settings: Mapping[str, str], name: str | None = None) -> PaymentProvider:
    name = name or settings.get("billing.provider", DEFAULT_PROVIDER)
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
