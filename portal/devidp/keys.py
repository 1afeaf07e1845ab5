"""The IdP's signing key pair, generated once per checkout so no key is ever committed."""

import os
from pathlib import Path

from portal.selfsigned import ensure_self_signed

KEY_FILE = "idp-key.pem"
CERT_FILE = "idp-cert.pem"


def ensure_key_pair(state_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Return (key path, certificate path), creating both on first use.

    Reusing them keeps the IdP metadata stable, so the portal need not be reconfigured after a
    restart.
    """
    state = Path(state_dir)
    return ensure_self_signed(state / KEY_FILE, state / CERT_FILE, "Portal development IdP")
