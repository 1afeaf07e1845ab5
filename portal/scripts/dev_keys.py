"""``python -m portal.scripts.dev_keys VAR``: the development keys and metadata ``make run`` needs.

The SP's key pair, the receipt-signing key pair, and the development IdP's keys and metadata,
so the portal (which reads the IdP metadata at start-up) and the IdP can start together.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography import x509

from portal.devidp.idp import DevIdP
from portal.selfsigned import ensure_self_signed

#: a document-signing certificate: digital signature and non-repudiation
SIGNING_EXTENSIONS = [
    (
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        True,
    ),
]


def main(argv=None) -> None:
    var = Path((argv or sys.argv[1:] or ["var"])[0])
    ensure_self_signed(var / "saml" / "sp.key", var / "saml" / "sp.crt", "Portal development SP")
    ensure_self_signed(
        var / "receipts" / "signing.key",
        var / "receipts" / "signing.crt",
        "Portal development receipt signing",
        extensions=SIGNING_EXTENSIONS,
    )
    DevIdP(var / "devidp", "http://localhost:6544", "http://localhost:6543/saml/metadata")


if __name__ == "__main__":
    main()
