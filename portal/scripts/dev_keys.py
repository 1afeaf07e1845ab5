"""``python -m portal.scripts.dev_keys VAR``: the development keys and metadata ``make run`` needs.

The SP's key pair, and the development IdP's keys and metadata, so the portal (which reads
the IdP metadata at start-up) and the IdP can start together.
"""

from __future__ import annotations

import sys
from pathlib import Path

from portal.devidp.idp import DevIdP
from portal.selfsigned import ensure_self_signed


def main(argv=None) -> None:
    var = Path((argv or sys.argv[1:] or ["var"])[0])
    ensure_self_signed(var / "saml" / "sp.key", var / "saml" / "sp.crt", "Portal development SP")
    DevIdP(var / "devidp", "http://localhost:6544", "http://localhost:6543/saml/metadata")


if __name__ == "__main__":
    main()
