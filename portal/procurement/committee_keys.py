"""A committee member's personal key: a key pair whose private half exists at rest only encrypted
under a passphrase that only the member knows.

The key is X25519: it only ever receives tender shares encrypted to it (`sealing`), which is all
Diffie-Hellman needs, and it is 32 bytes with no parameters to choose wrong. The passphrase goes
through Argon2id (RFC 9106, in `cryptography` since 44): memory-hard, so a copy of the database
costs a guesser 64 MiB and a few tenths of a second per passphrase tried, on any hardware.
"""

from __future__ import annotations

import os
import struct
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

_FORMAT = b"PCK1"
_PARAMETERS = struct.Struct(">IIB")
_SALT_BYTES = 16
_NONCE_BYTES = 12
_HEADER_BYTES = len(_FORMAT) + _PARAMETERS.size + _SALT_BYTES
_SEALED_BYTES = _HEADER_BYTES + _NONCE_BYTES + 32 + 16


@dataclass(frozen=True)
class KdfCost:
    """Argon2id's cost; stored in each sealed key so that a change of cost keeps old keys usable."""

    iterations: int
    memory_kib: int
    lanes: int


# RFC 9106's second recommended option (t=3, 64 MiB, p=4): 0.2-0.4 s on this machine.
PRODUCTION_COST = KdfCost(iterations=3, memory_kib=64 * 1024, lanes=4)
# A stored cost beyond this is refused as damaged rather than let exhaust the server's memory.
_MAXIMUM_COST = KdfCost(iterations=10, memory_kib=1024 * 1024, lanes=16)


class WrongPassphrase(Exception):
    """The passphrase does not unlock this committee key."""

    def __init__(self) -> None:
        super().__init__("The passphrase does not unlock this committee key.")


class DamagedCommitteeKey(Exception):
    """The stored bytes are not a sealed committee key of a known format."""

    def __init__(self) -> None:
        super().__init__("The stored committee key is damaged or of an unknown format.")


@dataclass(frozen=True)
class CommitteeKey:
    """What is stored for a member: both halves are bytes for LargeBinary columns."""

    public_key: bytes
    sealed_private_key: bytes


def create_committee_key(passphrase: str, *, cost: KdfCost = PRODUCTION_COST) -> CommitteeKey:
    """A fresh key pair, its private half sealed under `passphrase`; the clear half is not kept."""
    if not passphrase:
        raise ValueError("A committee key needs a passphrase.")
    private_key = X25519PrivateKey.generate()
    salt = os.urandom(_SALT_BYTES)
    header = _FORMAT + _PARAMETERS.pack(cost.iterations, cost.memory_kib, cost.lanes) + salt
    nonce = os.urandom(_NONCE_BYTES)
    wrapping_key = _derive(passphrase, salt, cost)
    sealed = AESGCM(wrapping_key).encrypt(nonce, private_key.private_bytes_raw(), header)
    return CommitteeKey(
        public_key=private_key.public_key().public_bytes_raw(),
        sealed_private_key=header + nonce + sealed,
    )


def unlock_committee_key(sealed_private_key: bytes, passphrase: str) -> X25519PrivateKey:
    """The member's private key, in memory only; `WrongPassphrase` if the passphrase is not theirs.

    The header (format, cost, salt) is the associated data, so altering the stored cost or salt is
    reported like a wrong passphrase instead of yielding another key.
    """
    if len(sealed_private_key) != _SEALED_BYTES or not sealed_private_key.startswith(_FORMAT):
        raise DamagedCommitteeKey()
    header = sealed_private_key[:_HEADER_BYTES]
    iterations, memory_kib, lanes = _PARAMETERS.unpack_from(header, len(_FORMAT))
    cost = KdfCost(iterations=iterations, memory_kib=memory_kib, lanes=lanes)
    if not (
        1 <= cost.iterations <= _MAXIMUM_COST.iterations
        and 1 <= cost.lanes <= _MAXIMUM_COST.lanes
        and 8 * cost.lanes <= cost.memory_kib <= _MAXIMUM_COST.memory_kib
    ):
        raise DamagedCommitteeKey()
    salt = header[-_SALT_BYTES:]
    nonce = sealed_private_key[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
    wrapping_key = _derive(passphrase, salt, cost)
    try:
        private_bytes = AESGCM(wrapping_key).decrypt(
            nonce, sealed_private_key[_HEADER_BYTES + _NONCE_BYTES :], header
        )
    except InvalidTag:
        raise WrongPassphrase() from None
    return X25519PrivateKey.from_private_bytes(private_bytes)


def _derive(passphrase: str, salt: bytes, cost: KdfCost) -> bytes:
    """NFC first, so the same passphrase typed on another keyboard or system gives the same key."""
    return Argon2id(
        salt=salt,
        length=32,
        iterations=cost.iterations,
        lanes=cost.lanes,
        memory_cost=cost.memory_kib,
    ).derive(unicodedata.normalize("NFC", passphrase).encode())
