"""The audit trail: security- and money-relevant events in a hash-chained, append-only log.

Features call :func:`record` (or :func:`record_request`) in the transaction that makes the
change; the entry is written when that transaction commits, linked to the one before it by
its SHA-256 (:mod:`portal.audit.chain`). ``portal-audit verify`` walks the chain
(:func:`verify`), a daily job logs an anchor (:func:`anchor`), and the retention job may
redact personal data or prune the oldest entries without breaking verification
(:mod:`portal.audit.retention`).

A low layer: identity, billing and every feature above may import it; it imports none of them.
"""

from portal.audit.anchor import Anchor, anchor, matches
from portal.audit.guard import guard_append_only
from portal.audit.retention import prune_before, redact_person, redact_personal
from portal.audit.trail import AuditError, record, record_request
from portal.audit.verify import Break, Verification, verify

__all__ = [
    "Anchor",
    "AuditError",
    "Break",
    "Verification",
    "anchor",
    "matches",
    "prune_before",
    "record",
    "record_request",
    "redact_person",
    "redact_personal",
    "verify",
]


def includeme(config) -> None:
    guard_append_only(config.registry["dbsession_factory"])
