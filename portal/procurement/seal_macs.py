"""The seal's MAC: what ties a sealed bid's hash to its tender, bid and version, under a secret
that is not in the database.

The tender's public key is public, so anyone who can write the database could seal other
content for a bid and store it with its own SHA-256; the hash on the row alone would then
vouch for the forgery. The MAC, recorded at the submission with the server's HMAC key
(``portal.pii_hmac_key``, in the server's configuration), cannot be recomputed from the
database alone, and the opening accepts only a sealed bid whose MAC still matches.
"""

from __future__ import annotations

import hmac

from portal.procurement.models import BidVersion


def seal_mac(vault, tender_reference: str, bid_public_id: str, number: int, sha256: str) -> str:
    """The MAC of a sealed bid's hash at its place; ``vault`` is the personal-data vault."""
    return vault.lookup_hash("|".join([tender_reference, bid_public_id, str(number), sha256]))


def sealed_as_submitted(vault, version: BidVersion) -> bool:
    """Whether ``version``'s hash and place are those recorded at its submission."""
    if not version.seal_mac:
        return False
    bid = version.bid
    expected = seal_mac(vault, bid.tender.reference, bid.public_id, version.number, version.sha256)
    return hmac.compare_digest(version.seal_mac, expected)
