"""Personal identifiers at rest: a keyed hash for look-up, an encrypted copy for display.

The national identifier never goes into a log, a URL or a plain column. The HMAC key and the
encryption key (a Fernet key: AES-128-CBC with HMAC-SHA256, from ``cryptography``) come from
settings, i.e. the environment in production. The same key keeps other private content
encrypted at rest (bytes, e.g. a bid's unsubmitted draft), so a copy of the database alone
does not show it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken

if TYPE_CHECKING:
    from portal.identity.models import User
    from portal.identity.requests import IdentifiedRequest


class UnreadableToken(ValueError):
    """Encrypted bytes that this key cannot read: another key, or altered."""


class PersonalDataVault:
    def __init__(self, hmac_key: str, encryption_key: str):
        self._hmac_key = hmac_key.encode()
        self._fernet = Fernet(encryption_key.encode())

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hmac_key, value.strip().encode(), hashlib.sha256).hexdigest()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.strip().encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """``token``'s clear bytes; :class:`UnreadableToken` if this key did not encrypt it or
        it was altered (the caller has lost data, it must not carry on as if it had none)."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise UnreadableToken(
                "encrypted content unreadable with portal.pii_encryption_key "
                "(another key, or altered)"
            ) from None


def national_id_of(request: IdentifiedRequest, user: User) -> str | None:
    """``user``'s national identifier in clear, for a page that shows it to them or to a clerk
    who may see it; ``None`` if the IdP never released one."""
    if not user.national_id_encrypted:
        return None
    return request.pii.decrypt(user.national_id_encrypted)


#: what stands for the hidden part of a masked identifier: always as long, so it does not
#: tell how long the identifier is
MASK = "\u2022" * 7


def masked(national_id: str | None) -> str | None:
    """``national_id`` with only its last four characters shown: enough for a clerk to tell
    two people apart, not enough to copy the identifier off a screen. One too short to keep
    most of it hidden is hidden whole."""
    if not national_id:
        return national_id
    return MASK + (national_id[-4:] if len(national_id) > 8 else "")


def includeme(config) -> None:
    settings = config.get_settings()
    vault = PersonalDataVault(
        settings["portal.pii_hmac_key"], settings["portal.pii_encryption_key"]
    )
    config.registry["pii_vault"] = vault
    config.add_request_method(lambda request: request.registry["pii_vault"], "pii", reify=True)
