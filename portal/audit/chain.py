"""How an entry is hashed: SHA-256 over the previous entry's hash and a canonical form of
the entry's content.

The content is everything recorded except ``personal``, which enters only through its keyed
digest: redacting ``personal`` (setting it NULL) leaves every hash valid, while personal
data still present can be checked against its digest. The digest is an HMAC, not a plain
hash, so that a redacted national identifier cannot be recovered by hashing every possible
one (they are short and structured).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

#: separates the digest's key from the other uses of ``portal.pii_hmac_key``
_DIGEST_CONTEXT = b"portal.audit.personal:"


def canonical_json(value: Any) -> str:
    """One spelling of ``value`` (sorted keys, no spaces, UTF-8 as is), whichever way the
    database returned it (PostgreSQL's JSONB reorders keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalised(value: Any) -> Any:
    """``value`` as it will read back from a JSON column (tuples as lists, keys as strings);
    refuses what JSON cannot hold rather than hashing something else than is stored."""
    if value is None:
        return None
    return json.loads(canonical_json(value))


def personal_digest(key: str, personal: Any) -> str | None:
    if personal is None:
        return None
    secret = _DIGEST_CONTEXT + key.encode()
    return hmac.new(secret, canonical_json(personal).encode(), hashlib.sha256).hexdigest()


def timestamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    occurred_at: dt.datetime,
    action: str,
    actor_id: int | None,
    subject_id: int | None,
    object_type: str | None,
    object_id: str | None,
    details: Any,
    personal_digest: str | None,
) -> str:
    content = canonical_json(
        {
            "seq": seq,
            "occurred_at": timestamp(occurred_at),
            "action": action,
            "actor_id": actor_id,
            "subject_id": subject_id,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "personal_digest": personal_digest,
        }
    )
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def hash_of_row(row) -> str:
    """The hash ``row`` (an :class:`~portal.audit.models.AuditEntry` or a result row with its
    columns) should carry, recomputed from its content."""
    return entry_hash(
        row.prev_hash,
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        actor_id=row.actor_id,
        subject_id=row.subject_id,
        object_type=row.object_type,
        object_id=row.object_id,
        details=row.details,
        personal_digest=row.personal_digest,
    )
