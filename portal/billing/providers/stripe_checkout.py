"""Stripe Checkout as a payment provider, through Stripe's official library (``stripe``).

A payment is one Checkout Session: its bills are the session's line items, our payment's
reference its ``client_reference_id`` and the metadata of the session and of its PaymentIntent
(through which the balance transactions name it). Every call that creates
something carries an idempotency key derived from our reference, so a retried call cannot charge
or refund twice. Webhooks are verified by the library's own verifier on the ``Stripe-Signature``
header; the balance transactions of a day are the settlement report.

A session expires when the portal's payment does (``expires_at``, within the 30 minutes to 24
hours Stripe allows) and speaks the payer's language (``locale``, where Checkout has it). A
refund's outcome comes from the answer to the call that made it and, for one that is pending
(some payment methods refund later), from the ``refund.updated`` / ``refund.failed`` and
``charge.refunded`` webhooks, as Stripe documents
(docs.stripe.com/refunds#refund-events): each names the refund's PaymentIntent, whose
Checkout Session is the portal's payment.

``billing.stripe.api_base`` points the library elsewhere than api.stripe.com: the tests' local
stand-in (tests/stripe/standin.py) answers the same endpoints with the same payloads.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe

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
TIMEOUT = (3.0, 10.0)
#: where Stripe's hosted payment pages are, the browser sent there from the review page
CHECKOUT_ORIGIN = "https://checkout.stripe.com"
#: the events about a Checkout Session that say how its payment went (README: send these)
SESSION_EVENTS = {
    "checkout.session.completed": None,
    "checkout.session.async_payment_succeeded": "succeeded",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "cancelled",
}
#: the events about a refund (their object a Refund), and about a charge refunded (a Charge)
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
CHARGE_REFUNDED = "charge.refunded"
#: how long Stripe keeps a Checkout Session open, at least and at most (docs: expires_at)
SHORTEST_SESSION = datetime.timedelta(minutes=30)
LONGEST_SESSION = datetime.timedelta(hours=24)
#: the languages of Checkout's pages (docs: Checkout Session ``locale``)
CHECKOUT_LOCALES = frozenset(
    [
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "en-GB",
        "es",
        "es-419",
        "et",
        "fi",
        "fil",
        "fr",
        "fr-CA",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lt",
        "lv",
        "ms",
        "mt",
        "nb",
        "nl",
        "pl",
        "pt",
        "pt-BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sv",
        "th",
        "tr",
        "vi",
        "zh",
        "zh-HK",
        "zh-TW",
    ]
)
#: balance transaction types that are a payment's money in, and a refund's money out
PAYMENT_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})
#: refused with these, asking again later may succeed
RETRYABLE = frozenset({408, 409, 429})

T = TypeVar("T")


class StripeCheckoutProvider:
    name = "stripe"
    label = _("Card or wallet (Stripe)")
    itemised = True

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        tolerance_seconds: int = 300,
    ):
        self.origin = _origin(api_base) if api_base else CHECKOUT_ORIGIN
        self.tolerance = tolerance_seconds
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=TIMEOUT),
            max_network_retries=2,
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> StripeCheckoutProvider:
        secret_key = settings.get("billing.stripe.secret_key")
        webhook_secret = settings.get("billing.stripe.webhook_secret")
        if not secret_key or not webhook_secret:
            raise SettingsError(
                "missing setting billing.stripe.secret_key or billing.stripe.webhook_secret "
                "(BILLING_STRIPE_SECRET_KEY, BILLING_STRIPE_WEBHOOK_SECRET)"
            )
        return cls(
            secret_key,
            webhook_secret,
            api_base=settings.get("billing.stripe.api_base") or None,
            tolerance_seconds=int(settings.get("billing.notification_tolerance_seconds", 300)),
        )

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
        """A Checkout Session of ``lines`` (or of one line, ``description``, if they do not
        add up to ``amount``), closing at ``expires_at`` and in the payer's ``locale``.
        Stripe notifies the endpoint set in its dashboard, not ``notify_url``; the payer comes
        back to ``return_url`` whether paid or not."""
        if not lines or sum(line.amount.minor for line in lines) != amount.minor:
            lines = [PaymentLine(description, amount)]
        params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": amount.currency.lower(),
                        "unit_amount": line.amount.minor,
                        "product_data": {"name": line.name},
                    },
                }
                for line in lines
            ],
            "client_reference_id": reference,
            "metadata": {"payment": reference},
            "payment_intent_data": {"description": description, "metadata": {"payment": reference}},
            "success_url": return_url,
            "cancel_url": return_url,
            "locale": checkout_locale(locale),
        }
        if expires_at is not None:
            params["expires_at"] = session_expiry(expires_at, datetime.datetime.now(datetime.UTC))
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params, {"idempotency_key": f"checkout-{reference}"}
            )
        )
        return _understood(session, lambda s: StartedPayment(s["id"], s["url"]))

    def query_payment(
        self, reference: str, provider_payment_id: str | None = None
    ) -> ProviderPayment | None:
        """The session the payment opened (none if it never opened one), with its
        PaymentIntent and charge for the card used, why it failed and what was refunded."""
        if provider_payment_id is None:
            return None
        try:
            session = self._call(
                lambda: self._client.v1.checkout.sessions.retrieve(
                    provider_payment_id, {"expand": ["payment_intent.latest_charge"]}
                )
            )
        except ProviderRefused as refused:
            if refused.code == "resource_missing":
                return None
            raise
        payment = _understood(session, _payment)
        if payment.reference != reference:
            raise ProviderUnavailable(f"session {provider_payment_id} is not of {reference}")
        return payment

    def refund(self, provider_payment_id: str, amount: Money, reference: str) -> ProviderRefund:
        """A refund of the session's PaymentIntent, keyed on the refund's reference."""
        session = _understood(
            self._call(lambda: self._client.v1.checkout.sessions.retrieve(provider_payment_id)),
            lambda s: s,
        )
        intent = session.get("payment_intent")
        if not isinstance(intent, str):
            raise ProviderRefused("no_payment", "the session took no payment to refund")
        params: Any = {
            "payment_intent": intent,
            "amount": amount.minor,
            "metadata": {"refund": reference, "payment": session["client_reference_id"]},
        }
        answer = self._call(
            lambda: self._client.v1.refunds.create(
                params, {"idempotency_key": f"refund-{reference}"}
            )
        )
        return _understood(answer, lambda r: _refund(r, provider_payment_id))

    def settlement_report(self, day: datetime.date) -> list[SettlementLine]:
        """The balance transactions created during the UTC ``day`` that are payments or
        refunds (payouts and Stripe's own fees are not the portal's to match)."""
        start = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
        params: Any = {
            "created": {
                "gte": int(start.timestamp()),
                "lt": int((start + datetime.timedelta(days=1)).timestamp()),
            },
            "limit": 100,
            # the charge or refund, and its PaymentIntent, whose metadata names our payment
            "expand": ["data.source.payment_intent"],
        }

        def every_transaction() -> list[dict]:
            listed = self._client.v1.balance_transactions.list(params)
            return [transaction.to_dict() for transaction in listed.auto_paging_iter()]

        transactions = self._call(every_transaction)
        return _understood(
            transactions,
            lambda found: [
                _settlement_line(t) for t in found if t["type"] in PAYMENT_TYPES | REFUND_TYPES
            ],
        )

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime.datetime
    ) -> ProviderEvent | None:
        """Verified by ``stripe.Webhook.construct_event``: the HMAC of the ``Stripe-Signature``
        header over its timestamp and the body, the timestamp within the tolerance of the
        system's time (the library's own clock). Events not about a session's payment are
        acknowledged and ignored."""
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        try:
            event = stripe.Webhook.construct_event(
                body, signature, self._webhook_secret, tolerance=self.tolerance
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidNotification(
                f"signature: {str(error.user_message or error).lower()}"
            ) from None
        except ValueError as error:  # not UTF-8, not JSON
            raise InvalidNotification("unreadable notification body") from error
        data = event.to_dict()
        kind = data.get("type")
        if kind not in SESSION_EVENTS and kind not in REFUND_EVENTS and kind != CHARGE_REFUNDED:
            return None
        try:
            obj = data["data"]["object"]
            created = datetime.datetime.fromtimestamp(data["created"], datetime.UTC)
            if kind in SESSION_EVENTS:
                payment, refunds = _payment(obj, SESSION_EVENTS[kind]), []
            else:
                intent = obj["payment_intent"]
                if not isinstance(intent, str):
                    intent = intent["id"]
            event_id, kind = str(data["id"]), str(kind)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as error:
            raise InvalidNotification("unreadable notification body") from error
        if kind not in SESSION_EVENTS:
            # what the event says of the refund is read afresh, with the session it refunds
            found = self._refunded_session(intent)
            if found is None:
                return None  # a PaymentIntent of no Checkout Session: not the portal's
            payment = found
            refunds = self._refunds_of(intent, payment.provider_payment_id)
            if kind in REFUND_EVENTS:
                refunds = [refund for refund in refunds if refund.provider_refund_id == obj["id"]]
        return ProviderEvent(
            event_id=event_id,
            type=kind,
            created=created,
            payment=payment,
            refund=refunds[0] if len(refunds) == 1 else None,
            refunds=tuple(refunds) if len(refunds) > 1 else (),
        )

    def _refunded_session(self, intent: str) -> ProviderPayment | None:
        """The Checkout Session that took PaymentIntent ``intent``, as a payment."""
        params: Any = {
            "payment_intent": intent,
            "limit": 1,
            "expand": ["data.payment_intent.latest_charge"],
        }
        listed = self._call(lambda: self._client.v1.checkout.sessions.list(params))
        sessions = _understood(listed, lambda found: found["data"])
        return _understood(sessions[0], _payment) if sessions else None

    def _refunds_of(self, intent: str, session_id: str) -> list[ProviderRefund]:
        """The refunds of PaymentIntent ``intent`` (at most the 100 most recent, more than
        a payment of the portal ever has)."""
        params: Any = {"payment_intent": intent, "limit": 100}
        listed = self._call(lambda: self._client.v1.refunds.list(params))
        return _understood(
            listed, lambda found: [_refund(refund, session_id) for refund in found["data"]]
        )

    def _call(self, call: Callable[[], T]) -> T:
        """``call`` to Stripe, its failures sorted into try-again-later and no."""
        try:
            return call()
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise ProviderUnavailable(type(error).__name__) from error
        except stripe.StripeError as error:
            status = error.http_status or 500
            if status >= 500 or status in RETRYABLE:
                raise ProviderUnavailable(f"{type(error).__name__}: HTTP {status}") from error
            raise ProviderRefused(
                str(error.code or f"http_{status}"), str(error.user_message or "")
            ) from error


def checkout_locale(locale: str | None) -> str:
    """The portal's language code (``sl``, ``en``, ``zh_Hans``) as Checkout's; ``auto`` (the
    payer's browser decides) for one Checkout does not speak."""
    if not locale:
        return "auto"
    code = locale.replace("_", "-")
    if code in CHECKOUT_LOCALES:
        return code
    language = code.split("-")[0]
    return language if language in CHECKOUT_LOCALES else "auto"


def session_expiry(expires_at: datetime.datetime, now: datetime.datetime) -> int:
    """``expires_at`` as the session's Unix time, brought within what Stripe accepts: at
    least 30 minutes from ``now`` (a review page left open near the payment's end: the late
    success, should it come, is accepted as any late success) and at most 24 hours."""
    soonest = now + SHORTEST_SESSION + datetime.timedelta(seconds=30)
    latest = now + LONGEST_SESSION - datetime.timedelta(seconds=30)
    return int(min(max(expires_at, soonest), latest).timestamp())


def _refund(refund: dict, session_id: str) -> ProviderRefund:
    """A Stripe Refund as billing sees one; ``reference`` is the portal's refund (from the
    metadata the portal gave it; empty for a refund made in Stripe's dashboard)."""
    return ProviderRefund(
        provider_refund_id=refund["id"],
        provider_payment_id=session_id,
        reference=str((refund.get("metadata") or {}).get("refund") or ""),
        amount=Money(int(refund["amount"]), str(refund["currency"]).upper()),
        status=str(refund["status"]),
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _understood(answer: Any, read: Callable[[Any], T]) -> T:
    """A successful answer we cannot understand is the provider's fault, not a refusal."""
    try:
        return read(answer.to_dict() if isinstance(answer, stripe.StripeObject) else answer)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ProviderUnavailable("unexpected answer from Stripe") from error


def _status(session: dict, intent: dict | None) -> str:
    """Checkout's session status and payment status as the portal's payment statuses; a
    declined card leaves the session open for another try, so it is still pending."""
    if session["status"] == "complete" and session["payment_status"] in (
        "paid",
        "no_payment_required",
    ):
        return "succeeded"
    if session["status"] == "expired":
        return "cancelled"
    # an asynchronous method (a bank debit) that did not go through
    if (
        session["status"] == "complete"
        and intent is not None
        and intent["status"] in ("requires_payment_method", "canceled")
    ):
        return "failed"
    return "pending"


def _payment(session: dict, told: str | None = None) -> ProviderPayment:
    """``session`` as billing sees a payment; ``told``: the status its event states."""
    intent = session.get("payment_intent")
    intent = intent if isinstance(intent, dict) else None
    charge = intent.get("latest_charge") if intent else None
    charge = charge if isinstance(charge, dict) else None
    currency = str(session["currency"]).upper()
    status = told or _status(session, intent)
    error = (intent or {}).get("last_payment_error") or {}
    return ProviderPayment(
        provider_payment_id=session["id"],
        reference=session["client_reference_id"],
        status=status,
        amount=Money(int(session["amount_total"]), currency),
        refunded=Money(int(charge["amount_refunded"]) if charge else 0, currency),
        method=_method(charge),
        failure_reason=(error.get("decline_code") or error.get("code"))
        if status == "failed"
        else None,
    )


def _method(charge: dict | None) -> str | None:
    details = (charge or {}).get("payment_method_details") or {}
    card = details.get("card")
    if card:
        return f"{str(card['brand']).title()} •••• {card['last4']}"
    return str(details["type"]).replace("_", " ").title() if details.get("type") else None


def _settlement_line(transaction: dict) -> SettlementLine:
    """A balance transaction: its source (expanded) is the charge or the refund; a refund's
    metadata names our refund, the PaymentIntent's (expanded too) our payment."""
    source = transaction["source"]
    intent = source.get("payment_intent")
    intent = intent if isinstance(intent, dict) else {"id": intent, "metadata": {}}
    currency = str(transaction["currency"]).upper()
    refund = transaction["type"] in REFUND_TYPES
    if refund:
        reference = (source.get("metadata") or {}).get("refund")
    else:
        reference = (intent.get("metadata") or {}).get("payment")
    return SettlementLine(
        kind="refund" if refund else "payment",
        provider_payment_id=str(intent["id"] or ""),
        # one the portal did not make is reported by Stripe's id (missing in the portal)
        reference=str(reference or source["id"]),
        amount=Money(int(transaction["amount"]), currency),
        fee=Money(int(transaction["fee"]), currency),
        settled_at=datetime.datetime.fromtimestamp(transaction["created"], datetime.UTC),
        provider_refund_id=source["id"] if refund else None,
    )
