"""The signature a delivery carries: ``Portal-Signature: t=<unix time>,v1=<hex>[,v1=<hex>]``.

Each ``v1`` is the HMAC-SHA256, under one of the endpoint's active secrets, of
``"<t>.<body>"``: the timestamp is signed with the body, so a captured delivery replayed later
fails the receiver's time check. During a rotation two secrets are active and the header
carries two ``v1`` values; a receiver accepts the delivery if any one matches a secret it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Portal-Signature"
#: marks a string as a Portal webhook secret (secret scanners can look for it)
MARK = "whsec_"
SHOWN_PREFIX_LENGTH = 12


def new_secret() -> str:
    return MARK + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    return ",".join(
        [f"t={timestamp}"] + [f"v1={signature(secret, timestamp, body)}" for secret in secrets_]
    )
