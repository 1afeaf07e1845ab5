"""A sandbox payment provider: a separate WSGI app that behaves like a real hosted-payment-page PSP.

The portal talks to it exactly as to a production provider (SAQ-A: card data is typed only on the
provider's page), so the whole payment flow, failure modes included, runs and is tested locally.
Run it with ``python -m portal.sandbox --port 6545 --db var/sandbox.db``.

Configuration (flag, environment variable, development default): ``--base-url``
``SANDBOX_BASE_URL`` ``http://localhost:6545``; ``--merchant-id`` ``SANDBOX_MERCHANT_ID``
``portal-dev``; ``--api-key`` ``SANDBOX_API_KEY`` ``dev-api-key``; ``--signing-secret``
``SANDBOX_SIGNING_SECRET`` ``dev-signing-secret``; ``--db`` ``SANDBOX_DB`` ``var/sandbox.db``;
``--duplicate-rate`` / ``--reorder-rate`` (0..1, default 0.2) and ``--seed``.

API (JSON, ``Authorization: Bearer <api key>``; refusals are RFC 9457 problems with a ``code``):

- ``POST /v1/payments`` ``{merchant_id, reference, amount, currency, description, return_url,
  notify_url}`` → 201 payment object, or 200 and the same payment when ``reference`` was seen
  before (409 ``reference_conflict`` if amount or currency differ). Pay at its ``hosted_url``.
- ``GET /v1/payments/<id>``, ``GET /v1/payments?reference=<ref>`` → payment object: ``id,
  reference, amount, currency, description, status (pending|succeeded|failed|cancelled),
  failure_reason, method ({brand, last4} or null), refunded_amount, created, hosted_url``.
- ``POST /v1/payments/<id>/refunds`` ``{amount, reference}`` → 201 refund object ``{id,
  payment_id, reference, amount, currency, status, created}``, 200 on replay of a reference; 409
  ``payment_not_refundable`` unless succeeded, 422 ``refund_exceeds_remaining``.
- ``GET /v1/settlements/<YYYY-MM-DD>.csv`` → ``type,psp_id,payment_id,reference,amount,currency,
  fee,net,settled_at`` for that UTC day (see :mod:`portal.sandbox.settlement`).
- ``GET /healthz``.

Test cards (any future expiry MM/YY, any 3-digit CVC, any name; any other number is refused):

- ``4242 4242 4242 4242`` succeeds.
- ``4000 0000 0000 0002`` fails with ``card_declined``.
- ``4000 0000 0000 9995`` fails with ``insufficient_funds``.
- ``4000 0000 0000 3220`` asks for a 3-D Secure code: ``123456`` succeeds, anything else fails
  with ``authentication_failed``.
- ``4000 0000 0000 0077`` succeeds, but no notification is ever sent for this payment (nor for its
  refunds): only polling the status API reveals the outcome.

Notifications: on each final outcome and each refund, the sandbox POSTs JSON to the payment's
``notify_url``::

    {"event_id": "evt_...",
     "type": "payment.succeeded" | "payment.failed" | "payment.cancelled" | "refund.succeeded",
     "created": <unix ts>,
     "data": <payment object; for refunds plus "refund": <refund object>>}

with the header ``Sandbox-Signature: t=<unix ts>,v1=<hex>``, where ``<hex>`` is the HMAC-SHA256,
keyed with the signing secret (UTF-8), of the bytes ``f"{t}.".encode() + raw_body``. A receiver
recomputes it over the exact body bytes, compares in constant time, and rejects a ``t`` more than a
few minutes from its clock. A non-2xx answer or connection error is retried with exponential
backoff (1 s, 2 s, 4 s, ... capped at 60 s, 10 attempts in all). Events may arrive twice (same
``event_id``, fresh signature) or out of order: the receiver deduplicates by ``event_id`` and
applies an event only if it moves the state forward, or takes it as a cue to query the status API.
"""
