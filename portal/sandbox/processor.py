"""What the sandbox provider does to payments and refunds, shared by its API and its hosted page.

A payment is `pending` until one final outcome (`succeeded`, `failed`, `cancelled`); every final
outcome and every refund writes its notification to the outbox in the same transaction, so the state
the status API shows and the events the portal receives can never disagree.
"""

import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from .cards import CHALLENGE_CODE, CardEntry
from .notifier import Notifier
from .store import Records, Store

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
TRANSITIONS = {"pending": set(FINAL_STATUSES)}


class Refused(Exception):
    """A request the provider turns down, with its HTTP status and a stable machine code."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PaymentRequest:
    """A merchant's validated request to take a payment."""

    merchant_id: str
    reference: str
    amount: int
    currency: str
    description: str
    return_url: str
    notify_url: str


def return_address(payment) -> str:
    """The merchant's return URL with only `psp_id` added: the browser's return proves nothing."""
    parts = urlsplit(payment["return_url"])
    query = "&".join(filter(None, [parts.query, urlencode({"psp_id": payment["id"]})]))
    return urlunsplit(parts._replace(query=query))


class Processor:
    """Creates, settles and refunds payments, and announces each outcome through the outbox."""

    def __init__(self, store: Store, notifier: Notifier, base_url: str):
        self.store = store
        self.notifier = notifier
        self.base_url = base_url.rstrip("/")

    def describe(self, records: Records, payment) -> dict:
        """The payment object of the status API and of notifications."""
        method = None
        if payment["last4"] and payment["status"] != "pending":
            method = {"brand": payment["brand"], "last4": payment["last4"]}
        return {
            "id": payment["id"],
            "reference": payment["reference"],
            "amount": payment["amount"],
            "currency": payment["currency"],
            "description": payment["description"],
            "status": payment["status"],
            "failure_reason": payment["failure_reason"],
            "method": method,
            "refunded_amount": records.refunded_amount(payment["id"]),
            "created": int(payment["created_at"]),
            "hosted_url": f"{self.base_url}/pay/{payment['id']}",
        }

    def create(self, request: PaymentRequest) -> tuple[dict, bool]:
        """The payment for this merchant reference, and whether this call created it."""
        with self.store.transaction() as records:
            existing = records.payment_by_reference(request.merchant_id, request.reference)
            if existing is not None:
                if (existing["amount"], existing["currency"]) != (request.amount, request.currency):
                    raise Refused(
                        409,
                        "reference_conflict",
                        f"Reference {request.reference!r} already names a payment of "
                        f"{existing['amount']} {existing['currency']}.",
                    )
                return self.describe(records, existing), False
            payment_id = "psp_" + secrets.token_hex(12)
            records.insert_payment(id=payment_id, created_at=time.time(), **request.__dict__)
            return self.describe(records, records.payment(payment_id)), True

    def status(self, merchant_id: str, *, payment_id=None, reference=None) -> dict:
        with self.store.transaction() as records:
            if payment_id is not None:
                payment = records.payment(payment_id)
            else:
                payment = records.payment_by_reference(merchant_id, reference)
            if payment is None or payment["merchant_id"] != merchant_id:
                raise Refused(404, "payment_not_found", "No such payment for this merchant.")
            return self.describe(records, payment)

    def payment(self, payment_id: str):
        """The stored payment row, for the hosted page."""
        with self.store.transaction() as records:
            return records.payment(payment_id)

    def pay(self, payment_id: str, entry: CardEntry):
        """Charge a test card: finishes the payment, or leaves it awaiting a 3-D Secure code."""
        card = entry.card
        with self.store.transaction() as records:
            self._pending(records, payment_id)
            if card.outcome == "challenge":
                records.update_payment(
                    payment_id, awaiting_challenge=1, brand=entry.brand, last4=entry.last4
                )
                return records.payment(payment_id)
            records.update_payment(
                payment_id, brand=entry.brand, last4=entry.last4, silent=int(not card.notify)
            )
            payment = self._finish(records, payment_id, card.outcome, card.failure_reason)
        self.notifier.wake()
        return payment

    def answer_challenge(self, payment_id: str, code: str):
        with self.store.transaction() as records:
            payment = self._pending(records, payment_id)
            if not payment["awaiting_challenge"]:
                raise Refused(
                    409, "no_challenge", "This payment is not awaiting a 3-D Secure code."
                )
            if code.strip() == CHALLENGE_CODE:
                payment = self._finish(records, payment_id, "succeeded", None)
            else:
                payment = self._finish(records, payment_id, "failed", "authentication_failed")
        self.notifier.wake()
        return payment

    def cancel(self, payment_id: str):
        with self.store.transaction() as records:
            self._pending(records, payment_id)
            payment = self._finish(records, payment_id, "cancelled", None)
        self.notifier.wake()
        return payment

    def refund(self, merchant_id: str, payment_id: str, amount: int, reference: str):
        """The refund for this reference, and whether this call created it."""
        with self.store.transaction() as records:
            payment = records.payment(payment_id)
            if payment is None or payment["merchant_id"] != merchant_id:
                raise Refused(404, "payment_not_found", "No such payment for this merchant.")
            existing = records.refund_by_reference(payment_id, reference)
            if existing is not None:
                if existing["amount"] != amount:
                    raise Refused(
                        409,
                        "reference_conflict",
                        f"Refund reference {reference!r} already names a refund of "
                        f"{existing['amount']}.",
                    )
                return _refund_object(existing), False
            if payment["status"] != "succeeded":
                raise Refused(
                    409,
                    "payment_not_refundable",
                    f"Only a succeeded payment can be refunded; this one is {payment['status']}.",
                )
            remaining = payment["amount"] - records.refunded_amount(payment_id)
            if amount > remaining:
                raise Refused(
                    422,
                    "refund_exceeds_remaining",
                    f"Only {remaining} {payment['currency']} of this payment is left to refund.",
                )
            refund_id = "re_" + secrets.token_hex(12)
            records.insert_refund(
                id=refund_id,
                payment_id=payment_id,
                reference=reference,
                amount=amount,
                currency=payment["currency"],
                status="succeeded",
                created_at=time.time(),
            )
            refund = _refund_object(records.refund_by_reference(payment_id, reference))
            data = {**self.describe(records, payment), "refund": refund}
            self._announce(records, payment, "refund.succeeded", data)
        self.notifier.wake()
        return refund, True

    def _pending(self, records: Records, payment_id: str):
        payment = records.payment(payment_id)
        if payment is None:
            raise Refused(404, "payment_not_found", "No such payment.")
        if payment["status"] not in TRANSITIONS:
            raise Refused(409, "payment_finished", f"This payment is already {payment['status']}.")
        return payment

    def _finish(self, records: Records, payment_id: str, status: str, failure_reason: str | None):
        assert status in TRANSITIONS[records.payment(payment_id)["status"]]
        records.update_payment(
            payment_id,
            status=status,
            failure_reason=failure_reason,
            awaiting_challenge=0,
            finished_at=time.time(),
        )
        finished = records.payment(payment_id)
        self._announce(records, finished, f"payment.{status}", self.describe(records, finished))
        return finished

    def _announce(self, records: Records, payment, event_type: str, data: dict) -> None:
        if payment["silent"]:
            return
        now = time.time()
        event_id = "evt_" + secrets.token_hex(12)
        body = {"event_id": event_id, "type": event_type, "created": int(now), "data": data}
        records.enqueue_event(
            event_id, payment["notify_url"], json.dumps(body), self.notifier.first_attempt_at(now)
        )


def _refund_object(refund) -> dict:
    return {
        "id": refund["id"],
        "payment_id": refund["payment_id"],
        "reference": refund["reference"],
        "amount": refund["amount"],
        "currency": refund["currency"],
        "status": refund["status"],
        "created": int(refund["created_at"]),
    }
