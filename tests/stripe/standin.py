"""A local HTTP stand-in for Stripe: the endpoints the portal's adapter calls, answered with
Stripe's documented payloads, and webhooks signed as Stripe signs them.

Under tests/ rather than in portal/ (like portal/sandbox) because only the tests use it: a
developer runs the portal on the sandbox, and a deployer tries Stripe in its own test mode. The
``stripe`` library is pointed at it by ``billing.stripe.api_base``, so every request and answer
goes through the library's real HTTP client, encoder and decoder.

Documented shapes followed (docs.stripe.com/api): Checkout Session, PaymentIntent, Charge,
Refund, Balance Transaction, Event, error objects; form-encoded requests with bracketed keys;
``Idempotency-Key``; list objects with ``has_more`` and ``starting_after``; ``expand[]``;
the ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload" keyed by the whsec
secret>`` header (docs.stripe.com/webhooks#verify-manually).

A session's ``expires_at`` must be 30 minutes to 24 hours away and its ``locale`` one Checkout
speaks, as Stripe checks them. Refunds are ``succeeded`` at once unless ``pending_refunds`` is
set (as for payment methods that refund later): ``settle_refund`` then ends one as succeeded
or failed. Refund webhooks are sent as Stripe documents them (docs.stripe.com/refunds):
``charge.refunded`` and ``refund.created`` when a refund is made, ``refund.updated`` (and
``refund.failed``) when its status changes.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

SECRET_KEY = "sk_test_portalstandin"
WEBHOOK_SECRET = "whsec_portalstandintestsecret"
API_VERSION = "2025-09-30.clover"
SUCCESS = "4242424242424242"
DECLINED = "4000000000000002"
_KEY_PART = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")
#: Checkout's languages (docs: Checkout Session ``locale``)
LOCALES = frozenset(
    [
        "auto",
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


def signature_header(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """``Stripe-Signature`` for ``payload`` sent at ``timestamp`` (now by default)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (``a[b][0][c]=v``) as nested dicts, numbered keys as lists."""
    root: dict = {}
    for key, value in pairs:
        parts = [name or index for name, index in _KEY_PART.findall(key)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code}}


class StripeStandIn:
    """One Stripe account in test mode: its objects in memory, a webhook endpoint to notify."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str = WEBHOOK_SECRET):
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        #: the tests' recording webhook endpoint, when they give it one
        self.receiver = None
        self.objects: dict[str, dict] = {}
        self.balance: list[str] = []
        self.idempotent: dict[str, tuple[str, int, dict]] = {}
        self.requests: list[tuple[str, str]] = []
        #: refunds stay pending until settle_refund (a payment method that refunds later)
        self.pending_refunds = False
        self.lock = threading.RLock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                standin._handle(self, "GET")

            def do_POST(self):
                standin._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def reset(self) -> None:
        """Forget every object, as a new test-mode account would have none."""
        with self.lock:
            self.objects.clear()
            self.balance.clear()
            self.idempotent.clear()
            self.requests.clear()
            self.pending_refunds = False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- HTTP -----------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        params = decode_form(parse_qsl(url.query if method == "GET" else body))
        self.requests.append((method, url.path))
        try:
            if url.path.startswith("/c/pay/"):
                status, headers, page = self._hosted(
                    method, url.path.removeprefix("/c/pay/"), params
                )
                return _send(handler, status, page.encode(), "text/html; charset=utf-8", headers)
            self._authenticate(handler.headers.get("Authorization", ""))
            key = handler.headers.get("Idempotency-Key")
            status, answer = self._idempotent(key, method, url.path, body, params)
        except StripeError as error:
            status, answer = error.status, error.body
        _send(handler, status, json.dumps(answer).encode(), "application/json")

    def _authenticate(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(token, SECRET_KEY):
            raise StripeError(401, "invalid_request_error", "Invalid API Key provided")

    def _idempotent(self, key, method, path, body, params) -> tuple[int, dict]:
        """A POST repeated with its Idempotency-Key gets the first answer again; the same key
        with other parameters is an error, as Stripe documents."""
        if method != "POST" or not key:
            return self._route(method, path, params)
        with self.lock:
            seen = self.idempotent.get(key)
            if seen is not None:
                if seen[0] != f"{path}?{body}":
                    raise StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters.",
                    )
                return seen[1], seen[2]
            status, answer = self._route(method, path, params)
            self.idempotent[key] = (f"{path}?{body}", status, answer)
            return status, answer

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        expand = params.get("expand") or []
        with self.lock:
            if method == "POST" and parts == ["v1", "checkout", "sessions"]:
                return 200, self.create_session(params)
            if method == "GET" and parts == ["v1", "checkout", "sessions"]:
                return 200, self.list_sessions(params, expand)
            if method == "GET" and parts == ["v1", "refunds"]:
                return 200, self.list_refunds(params)
            if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
                return 200, self._expanded(self._get(parts[3], "checkout.session"), expand)
            if (
                method == "POST"
                and parts[:3] == ["v1", "checkout", "sessions"]
                and parts[4:] == ["expire"]
            ):
                return 200, self.expire_session(parts[3])
            if method == "POST" and parts == ["v1", "refunds"]:
                return 200, self.create_refund(params)
            if method == "GET" and parts == ["v1", "balance_transactions"]:
                return 200, self.list_balance_transactions(params, expand)
        raise StripeError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})"
        )

    # --- objects --------------------------------------------------------------------------

    def _new(self, prefix: str, obj: dict) -> dict:
        obj = {"id": f"{prefix}_{secrets.token_hex(12)}", **obj, "livemode": False}
        self.objects[obj["id"]] = obj
        return obj

    def _get(self, object_id: str, kind: str) -> dict:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise StripeError(
                404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
            )
        return found

    def _expanded(self, obj: dict, paths: list[str]) -> dict:
        """A deep copy of ``obj`` with the ids named by ``paths`` (``a.b``) replaced by objects."""
        copy = json.loads(json.dumps(_public(obj)))
        for path in paths:
            _expand(copy, path.split("."), self.objects)
        return copy

    def create_session(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise StripeError(400, "invalid_request_error", "Only mode=payment is supported here.")
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "invalid_request_error", "line_items is required.")
        currencies = {item["price_data"]["currency"] for item in items}
        if len(currencies) != 1:
            raise StripeError(400, "invalid_request_error", "Line items must share a currency.")
        total = sum(
            int(item["price_data"]["unit_amount"]) * int(item["quantity"]) for item in items
        )
        now = int(time.time())
        expires_at = int(params.get("expires_at") or now + 24 * 3600)
        if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
            raise StripeError(
                400,
                "invalid_request_error",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                "parameter_invalid_integer",
            )
        locale = params.get("locale") or "auto"
        if locale not in LOCALES:
            raise StripeError(
                400, "invalid_request_error", f"Invalid locale: {locale}", "parameter_invalid_enum"
            )
        session = self._new(
            "cs_test",
            {
                "object": "checkout.session",
                "amount_subtotal": total,
                "amount_total": total,
                "cancel_url": params["cancel_url"],
                "client_reference_id": params.get("client_reference_id"),
                "created": now,
                "currency": currencies.pop(),
                "expires_at": expires_at,
                "locale": None if locale == "auto" else locale,
                "metadata": params.get("metadata") or {},
                "mode": "payment",
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params["success_url"],
                "url": None,
            },
        )
        session["url"] = f"{self.base_url}/c/pay/{session['id']}"
        session["_line_items"] = items
        session["_intent_data"] = params.get("payment_intent_data") or {}
        return _public(session)

    def expire_session(self, session_id: str) -> dict:
        """An open session closed before it was paid (as after 24 hours), with its webhook."""
        session = self._get(session_id, "checkout.session")
        if session["status"] != "open":
            raise StripeError(
                400,
                "invalid_request_error",
                'Only Checkout Sessions with a status in ["open"] can be expired.',
            )
        session.update(status="expired", url=None)
        self.send_webhook(self._event("checkout.session.expired", _public(session)))
        return _public(session)

    def create_refund(self, params: dict) -> dict:
        intent = self._get(params.get("payment_intent", ""), "payment_intent")
        charge = self.objects[intent["latest_charge"]]
        amount = int(params.get("amount") or charge["amount"] - charge["amount_refunded"])
        if amount <= 0 or amount > charge["amount"] - charge["amount_refunded"]:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
                "amount_too_large",
            )
        refund = self._new(
            "re",
            {
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": params.get("metadata") or {},
                "payment_intent": intent["id"],
                "reason": None,
                "status": "pending" if self.pending_refunds else "succeeded",
            },
        )
        refund["balance_transaction"] = self._balance_transaction(refund, -amount, 0, "refund")
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.send_webhook(self._event("charge.refunded", _public(charge)))
        self.send_webhook(self._event("refund.created", _public(refund)))
        return _public(refund)

    def settle_refund(self, refund_id: str, status: str) -> dict:
        """A pending refund ends ``succeeded`` or ``failed`` (its money back on the charge),
        with its webhooks."""
        with self.lock:
            refund = self._get(refund_id, "refund")
            assert refund["status"] == "pending" and status in ("succeeded", "failed")
            refund["status"] = status
            if status == "failed":
                charge = self.objects[refund["charge"]]
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = False
                refund["failure_reason"] = "lost_or_stolen_card"
                self._balance_transaction(refund, refund["amount"], 0, "refund_failure")
            events = [self._event("refund.updated", _public(refund))]
            if status == "failed":
                events.append(self._event("refund.failed", _public(refund)))
        for event in events:
            self.send_webhook(event)
        return _public(refund)

    def list_sessions(self, params: dict, expand: list[str]) -> dict:
        """Checkout Sessions, of one PaymentIntent when ``payment_intent`` is given."""
        intent = params.get("payment_intent")
        found = [
            _public(obj)
            for obj in reversed(list(self.objects.values()))
            if obj["object"] == "checkout.session"
            and (intent is None or obj["payment_intent"] == intent)
        ]
        limit = min(int(params.get("limit") or 10), 100)
        page = {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/checkout/sessions",
        }
        return self._expanded(page, expand)

    def list_refunds(self, params: dict) -> dict:
        """Refunds, newest first, of one PaymentIntent or charge when given."""
        found = [
            _public(obj)
            for obj in reversed(list(self.objects.values()))
            if obj["object"] == "refund"
            and params.get("payment_intent") in (None, obj["payment_intent"])
            and params.get("charge") in (None, obj["charge"])
        ]
        limit = min(int(params.get("limit") or 10), 100)
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    def list_balance_transactions(self, params: dict, expand: list[str]) -> dict:
        created = params.get("created") or {}
        limit = min(int(params.get("limit") or 10), 100)
        found = [
            self.objects[txn_id]
            for txn_id in reversed(self.balance)  # newest first, as Stripe lists
            if int(created.get("gte", 0)) <= self.objects[txn_id]["created"]
            and self.objects[txn_id]["created"] < int(created.get("lt", 2**40))
        ]
        if params.get("starting_after"):
            ids = [txn["id"] for txn in found]
            found = found[ids.index(params["starting_after"]) + 1 :]
        page = {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/balance_transactions",
        }
        return self._expanded(page, expand)

    def _balance_transaction(self, source: dict, amount: int, fee: int, kind: str) -> str:
        now = int(time.time())
        txn = self._new(
            "txn",
            {
                "object": "balance_transaction",
                "amount": amount,
                "available_on": now + 2 * 86400,
                "created": now,
                "currency": source["currency"],
                "description": None,
                "fee": fee,
                "fee_details": [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": source["currency"],
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else [],
                "net": amount - fee,
                "reporting_category": kind,
                "source": source["id"],
                "status": "pending",
                "type": kind,
            },
        )
        self.balance.append(txn["id"])
        return txn["id"]

    # --- the hosted page and the webhooks -------------------------------------------------

    def _hosted(self, method: str, session_id: str, form: dict) -> tuple[int, dict, str]:
        with self.lock:
            session = self.objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                return 404, {}, "<p>Something went wrong</p>"
            if session["status"] != "open":
                return 409, {}, "<p>This Checkout Session is no longer active.</p>"
            if method == "GET":
                return 200, {}, _page(session, "")
            if form.get("cancel"):
                return 303, {"Location": session["cancel_url"]}, ""
            number = re.sub(r"\D", "", form.get("card_number", ""))
            if number == SUCCESS:
                self._pay(session, number)
                event = self._event("checkout.session.completed", _public(session))
            elif number == DECLINED:
                return 402, {}, _page(session, "Your card was declined.")
            else:
                return 400, {}, _page(session, "Your card number is invalid.")
        self.send_webhook(event)
        return 303, {"Location": session["success_url"]}, ""

    def _pay(self, session: dict, number: str) -> None:
        """The session paid by card: a PaymentIntent, its charge and the charge's balance
        transaction (fee: 1.5 % + 0.25 in the currency's minor units, as for EEA cards)."""
        now = int(time.time())
        amount = session["amount_total"]
        metadata = session["_intent_data"].get("metadata") or {}
        intent = self._new(
            "pi",
            {
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "created": now,
                "currency": session["currency"],
                "description": session["_intent_data"].get("description"),
                "last_payment_error": None,
                "latest_charge": None,
                "metadata": metadata,
                "status": "succeeded",
            },
        )
        charge = self._new(
            "ch",
            {
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "created": now,
                "currency": session["currency"],
                # the PaymentIntent's metadata is not assumed to be copied to its charge
                "metadata": {},
                "paid": True,
                "payment_intent": intent["id"],
                "payment_method_details": {
                    "type": "card",
                    "card": {
                        "brand": "visa",
                        "country": "SI",
                        "exp_month": 12,
                        "exp_year": 2039,
                        "funding": "credit",
                        "last4": number[-4:],
                    },
                },
                "refunded": False,
                "status": "succeeded",
            },
        )
        fee = round(amount * 0.015) + 25
        charge["balance_transaction"] = self._balance_transaction(charge, amount, fee, "charge")
        intent["latest_charge"] = charge["id"]
        session.update(
            payment_intent=intent["id"], payment_status="paid", status="complete", url=None
        )

    def _event(self, kind: str, obj: dict) -> dict:
        return self._new(
            "evt",
            {
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "data": {"object": obj},
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
            },
        )

    def event_about(self, kind: str, obj: dict) -> bytes:
        """The body of an event of ``kind`` about ``obj``, as a webhook carries it."""
        with self.lock:
            return json.dumps(self._event(kind, obj), indent=2).encode()

    def send_webhook(self, event: dict) -> None:
        """POST the event to the account's endpoint, signed as Stripe signs it."""
        if self.webhook_url is None:
            return
        payload = json.dumps(event, indent=2).encode()
        requests.post(
            self.webhook_url,
            data=payload,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature_header(payload, self.webhook_secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            timeout=5,
        )


def _expand(node, path: list[str], objects: dict) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(item, path, objects)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    value = node[path[0]]
    if isinstance(value, str) and value in objects:
        value = node[path[0]] = _public(json.loads(json.dumps(objects[value])))
    if len(path) > 1:
        _expand(value, path[1:], objects)


def _public(obj: dict) -> dict:
    """``obj`` without the stand-in's own bookkeeping (keys starting with ``_``)."""
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def _page(session: dict, error: str) -> str:
    items = "".join(
        f"<li>{html.escape(item['price_data']['product_data']['name'])}: "
        f"{int(item['price_data']['unit_amount']) / 100:.2f}</li>"
        for item in session["_line_items"]
    )
    return (
        "<!doctype html><title>Checkout</title>"
        f"<ul id='line-items'>{items}</ul>"
        f"<p id='error'>{html.escape(error)}</p>"
        "<form method='post'><input name='card_number'><button>Pay</button></form>"
    )


def _send(handler, status: int, body: bytes, content_type: str, headers=None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
