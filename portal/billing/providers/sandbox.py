"""The sandbox PSP (:mod:`portal.sandbox`) as a payment provider, spoken to over real HTTP.

It is configured and treated exactly like a production provider: an API key, a signing secret for
notifications, explicit timeouts, and every failure mapped to retry-or-give-up.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import hmac
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote, urlsplit

import requests

from portal.i18n import _
from portal.money import Money
from portal.settings import SettingsError

from . import (
    InvalidNotification,
    PaymentLine,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderUnavailable,
    SettlementLine,
    StartedPayment,
)

#: (connect, read) seconds: a hung provider must not hold a portal worker
TIMEOUT = (3, 10)
SIGNATURE_HEADER = "sandbox-signature"
STATUSES = frozenset({"pending", "succeeded", "failed", "cancelled"})
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}
#: answers that say "try again later" rather than "no"
RETRYABLE = frozenset({408, 429})

T = TypeVar("T")


class SandboxProvider:
    name = "sandbox"
    label = _("Card (sandbox test provider)")
    itemised = False

    def __init__(
        self,
        base_url: str,
        merchant_id: str,
        api_key: str,
        signing_secret: str,
        tolerance_seconds: int = 300,
    ):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.merchant_id = merchant_id
        self.tolerance = datetime.timedelta(seconds=tolerance_seconds)
        self._signing_secret = signing_secret.encode()
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"
        # The environment's proxy and CA settings read once, here, rather than on every call
        # (requests reads and merges them per request: a fifth of a checkout's HTTP cost).
        self._session.proxies = requests.utils.get_environ_proxies(self.base_url)
        self._session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self._session.trust_env = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SandboxProvider:
        values = {}
        for key in ("base_url", "merchant_id", "api_key", "signing_secret"):
            values[key] = settings.get(f"billing.sandbox.{key}")
            if not values[key]:
                raise SettingsError(f"missing setting billing.sandbox.{key}")
        tolerance = int(settings.get("billing.notification_tolerance_seconds", 300))
        return cls(**values, tolerance_seconds=tolerance)

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
        """The sandbox's page shows the description and the total, not ``lines``; it speaks
        English only and keeps its page open as long as it likes (the portal expires the
        payment itself), so ``locale`` and ``expires_at`` change nothing."""
        response = self._call(
            "POST",
            "/v1/payments",
            json={
                "merchant_id": self.merchant_id,
                "reference": reference,
                "amount": amount.minor,
                "currency": amount.currency,
                "description": description,
                "return_url": return_url,
                "notify_url": notify_url,
            },
        )
        return _understood(
            response, lambda r: StartedPayment(r.json()["id"], r.json()["hosted_url"])
        )

    def query_payment(
        self, reference: str, provider_payment_id: str | None = None
    ) -> ProviderPayment | None:
        """Asked by our reference, which the sandbox keys its payments on."""
        try:
            response = self._call("GET", "/v1/payments", params={"reference": reference})
        except ProviderRefused as refusal:
            if refusal.code == "payment_not_found":
                return None
            raise
        return _understood(response, lambda r: _payment(r.json()))

    def refund(self, provider_payment_id: str, amount: Money, reference: str) -> ProviderRefund:
        response = self._call(
            "POST",
            f"/v1/payments/{quote(provider_payment_id, safe='')}/refunds",
            json={"amount": amount.minor, "reference": reference},
        )
        return _understood(response, lambda r: _refund(r.json()))

    def settlement_report(self, day: datetime.date) -> list[SettlementLine]:
        response = self._call("GET", f"/v1/settlements/{day.isoformat()}.csv")
        return _understood(
            response,
            lambda r: [_settlement_line(row) for row in csv.DictReader(io.StringIO(r.text))],
        )

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime.datetime
    ) -> ProviderEvent:
        timestamp, signatures = _signature_header(headers)
        sent = datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC)
        if abs(now - sent) > self.tolerance:
            raise InvalidNotification("signature timestamp outside the tolerance window")
        expected = hmac.new(
            self._signing_secret, f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, signature) for signature in signatures):
            raise InvalidNotification("signature does not match")
        try:
            return _event(json.loads(body))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as error:
            # signed yet malformed: a member of the wrong type, a time beyond the calendar
            raise InvalidNotification("unreadable notification body") from error

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self._session.request(
                method, self.base_url + path, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as error:
            raise ProviderUnavailable(f"{method} {path}: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code in RETRYABLE:
            raise ProviderUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response


def _understood(response: requests.Response, read: Callable[[requests.Response], T]) -> T:
    """A successful answer we cannot understand is the provider's fault, not a refusal."""
    try:
        return read(response)
    except (KeyError, TypeError, ValueError, csv.Error) as error:
        raise ProviderUnavailable(f"unexpected answer from {response.url}") from error


def _refusal(response: requests.Response) -> ProviderRefused:
    try:
        problem = response.json()
        return ProviderRefused(str(problem["code"]), str(problem.get("detail", "")))
    except (KeyError, TypeError, ValueError):
        return ProviderRefused(f"http_{response.status_code}", response.reason or "")


def _signature_header(headers: Mapping[str, str]) -> tuple[str, list[str]]:
    """``t=<unix ts>,v1=<hex>[,v1=<hex>...]`` read leniently as to spacing, strictly as to form."""
    header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if header is None:
        raise InvalidNotification("no signature header")
    timestamps, signatures = [], []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value.strip())
        elif key == "v1" and re.fullmatch(r"[0-9a-f]{64}", value.strip()):
            signatures.append(value.strip())
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,11}", timestamps[0]) or not signatures:
        raise InvalidNotification("malformed signature header")
    return timestamps[0], signatures


def _method(method: dict | None) -> str | None:
    if method is None:
        return None
    brand = BRANDS.get(method["brand"], str(method["brand"]).title())
    return f"{brand} •••• {method['last4']}"


def _payment(data: dict) -> ProviderPayment:
    if data["status"] not in STATUSES:
        raise ValueError(f"unknown payment status {data['status']!r}")
    return ProviderPayment(
        provider_payment_id=data["id"],
        reference=data["reference"],
        status=data["status"],
        amount=Money(data["amount"], data["currency"]),
        refunded=Money(data["refunded_amount"], data["currency"]),
        method=_method(data["method"]),
        failure_reason=data["failure_reason"],
    )


def _refund(data: dict) -> ProviderRefund:
    return ProviderRefund(
        provider_refund_id=data["id"],
        provider_payment_id=data["payment_id"],
        reference=data["reference"],
        amount=Money(data["amount"], data["currency"]),
        status=data["status"],
    )


def _event(data: dict) -> ProviderEvent:
    payment = data["data"]
    refund = payment.get("refund")
    return ProviderEvent(
        event_id=data["event_id"],
        type=data["type"],
        created=datetime.datetime.fromtimestamp(data["created"], datetime.UTC),
        payment=_payment(payment),
        refund=None if refund is None else _refund(refund),
    )


def _settlement_line(row: dict) -> SettlementLine:
    settled_at = datetime.datetime.fromisoformat(row["settled_at"])
    if row["type"] not in ("payment", "refund"):
        raise ValueError(f"unknown settlement line type {row['type']!r}")
    if settled_at.tzinfo is None:
        raise ValueError("settlement time without a timezone")
    return SettlementLine(
        kind=row["type"],
        provider_payment_id=row["payment_id"],
        reference=row["reference"],
        amount=Money(int(row["amount"]), row["currency"]),
        fee=Money(int(row["fee"]), row["currency"]),
        settled_at=settled_at.astimezone(datetime.UTC),
        provider_refund_id=row["psp_id"] if row["type"] == "refund" else None,
    )
