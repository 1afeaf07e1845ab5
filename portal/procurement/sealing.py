"""Sealed bids: nobody can read a bid before m of the n committee members unlock their shares.

At publication `create_tender_key` makes an X25519 key pair for the tender, splits its private half
with Shamir secret sharing into one share per committee member, encrypts each share to that
member's personal key (`committee_keys`) and returns only the public key and the encrypted shares:
the private key is never stored. `seal_bid` encrypts a bid's content with a fresh data key and wraps
that key to the tender's public key. At the opening an `Opening` collects the unlocked shares, and
with m of them rebuilds the private key in memory, opens every bid and lets the key go.

The sharing is SLIP-39 (`shamir-mnemonic`, maintained by Trezor's authors): it splits a 32-byte
secret whole (PyCryptodome's Shamir takes 16 bytes only), and each share carries a checksum, the
split's identifier and the threshold, so a corrupted share or one from another split is refused by
itself and the number of shares still missing is known exactly.

Encryption to a public key is ECIES-style: an ephemeral X25519 key, HKDF-SHA256 over the shared
secret and both public keys, AES-256-GCM. Every key used with AES-GCM here encrypts exactly one
message (ephemeral exchange, or a fresh data key), so the nonce is fixed at zero. The associated
data binds each ciphertext to its place (tender, member; tender, bid, version), so a share or a
sealed bid moved to another place does not open there.

Python cannot wipe memory: "forgotten" means no reference is kept and the objects are freed, which
keeps the key off disk and out of the database, not out of a core dump of the opening process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import shamir_mnemonic
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SHARE_FORMAT = b"PSH1"
_BID_FORMAT = b"PSB1"
_ZERO_NONCE = bytes(12)
_KEY_BYTES = 32
_TAG_BYTES = 16
_WRAPPED_KEY_BYTES = _KEY_BYTES + _KEY_BYTES + _TAG_BYTES
# SLIP-39's own passphrase layer is left empty: the shares are protected by encryption to each
# member, so its PBKDF2 rounds would only slow the opening.
_SLIP39_ITERATION_EXPONENT = 0
# SLIP-39 allows at most 16 shares in a group.
MAXIMUM_COMMITTEE = 16


class ShareRefused(Exception):
    """A share that is damaged, not this member's, or not from this tender's split: not counted."""


class NotEnoughShares(Exception):
    """Fewer than the threshold of shares: nothing can be opened yet."""

    def __init__(self, missing: int) -> None:
        self.missing = missing
        super().__init__(f"{missing} more unlocked share(s) are needed to open the bids.")


@dataclass(frozen=True)
class CommitteeMember:
    member_id: str
    public_key: bytes


@dataclass(frozen=True)
class EncryptedShare:
    """One member's share, readable only with that member's unlocked committee key."""

    member_id: str
    blob: bytes


@dataclass(frozen=True)
class TenderKey:
    """All that publication keeps: the tender's private key is not in it."""

    public_key: bytes
    shares: tuple[EncryptedShare, ...]


@dataclass(frozen=True)
class UnlockedShare:
    """A share in clear, in memory, waiting for the others; it opens nothing alone."""

    tender_id: str
    member_id: str
    mnemonic: str = field(repr=False)


@dataclass(frozen=True)
class SealedBid:
    """The sealed blob to store and its SHA-256 (hex) for the submission receipt."""

    blob: bytes
    sha256: str


@dataclass(frozen=True)
class RecordedBid:
    """A sealed bid as stored, with the SHA-256 recorded on its receipt."""

    bid_id: str
    version: int
    blob: bytes
    sha256: str


@dataclass(frozen=True)
class OpenedBid:
    """A bid after the opening: its content, or why it is held tampered with (then no content)."""

    bid_id: str
    version: int
    content: bytes | None
    fault: str | None = None

    @property
    def tampered(self) -> bool:
        return self.fault is not None


def create_tender_key(
    tender_id: str, members: Sequence[CommitteeMember], threshold: int
) -> TenderKey:
    """A tender key whose private half exists only as `threshold`-of-n shares, one per member."""
    member_ids = [member.member_id for member in members]
    if len(set(member_ids)) != len(member_ids):
        raise ValueError("Each committee member may hold one share only.")
    if not 2 <= threshold <= len(members) <= MAXIMUM_COMMITTEE:
        raise ValueError(
            f"A committee needs 2 <= threshold <= members <= {MAXIMUM_COMMITTEE}; "
            f"got {threshold} of {len(members)}."
        )
    private_key = X25519PrivateKey.generate()
    [mnemonics] = shamir_mnemonic.generate_mnemonics(
        group_threshold=1,
        groups=[(threshold, len(members))],
        master_secret=private_key.private_bytes_raw(),
        iteration_exponent=_SLIP39_ITERATION_EXPONENT,
    )
    shares = tuple(
        EncryptedShare(
            member_id=member.member_id,
            blob=_SHARE_FORMAT
            + _encrypt_to(
                X25519PublicKey.from_public_bytes(member.public_key),
                mnemonic.encode("ascii"),
                _binding(_SHARE_FORMAT, tender_id, member.member_id),
            ),
        )
        for member, mnemonic in zip(members, mnemonics, strict=True)
    )
    return TenderKey(public_key=private_key.public_key().public_bytes_raw(), shares=shares)


def unlock_share(
    share: EncryptedShare, tender_id: str, member_key: X25519PrivateKey
) -> UnlockedShare:
    """The member's share in clear; `ShareRefused` if not theirs, not this tender's, or damaged."""
    if not share.blob.startswith(_SHARE_FORMAT):
        raise ShareRefused("This share is damaged or of an unknown format.")
    try:
        mnemonic = _decrypt_with(
            member_key,
            share.blob[len(_SHARE_FORMAT) :],
            _binding(_SHARE_FORMAT, tender_id, share.member_id),
        ).decode("ascii")
        shamir_mnemonic.Share.from_mnemonic(mnemonic)
    except (InvalidTag, ValueError, shamir_mnemonic.MnemonicError):
        raise ShareRefused(
            "This share does not open with this member's key for this tender."
        ) from None
    return UnlockedShare(tender_id=tender_id, member_id=share.member_id, mnemonic=mnemonic)


def seal_bid(
    tender_public_key: bytes, tender_id: str, bid_id: str, version: int, content: bytes
) -> SealedBid:
    """`content` under a fresh data key wrapped to the tender; bound to tender, bid and version."""
    binding = _binding(_BID_FORMAT, tender_id, bid_id, str(version))
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped_key = _encrypt_to(
        X25519PublicKey.from_public_bytes(tender_public_key), data_key, binding
    )
    blob = _BID_FORMAT + wrapped_key + AESGCM(data_key).encrypt(_ZERO_NONCE, content, binding)
    return SealedBid(blob=blob, sha256=hashlib.sha256(blob).hexdigest())


class Opening:
    """Collects unlocked shares for one tender; with `threshold` of them, opens its bids once."""

    def __init__(self, tender_id: str, tender_public_key: bytes, threshold: int) -> None:
        self.tender_id = tender_id
        self.tender_public_key = tender_public_key
        self.threshold = threshold
        self._split_identifier: int | None = None
        self._mnemonics: dict[int, str] = {}

    @property
    def missing(self) -> int:
        return max(0, self.threshold - len(self._mnemonics))

    def add(self, share: UnlockedShare) -> None:
        """Counts the share once per member; `ShareRefused` (not counted) if it cannot be here."""
        if share.tender_id != self.tender_id:
            raise ShareRefused("This share belongs to another tender.")
        try:
            parsed = shamir_mnemonic.Share.from_mnemonic(share.mnemonic)
        except shamir_mnemonic.MnemonicError:
            raise ShareRefused("This share is damaged.") from None
        if parsed.member_threshold != self.threshold or (
            self._split_identifier is not None and parsed.identifier != self._split_identifier
        ):
            raise ShareRefused("This share is not from this tender's key.")
        self._split_identifier = parsed.identifier
        self._mnemonics[parsed.index] = share.mnemonic

    def open(self, bids: Iterable[RecordedBid]) -> list[OpenedBid]:
        """Every bid opened or flagged as tampered; then the shares and the rebuilt key are let go.

        `NotEnoughShares` below the threshold; `ShareRefused` if the shares, though well formed,
        do not rebuild this tender's key (one was forged to a member's public key).
        """
        if self.missing:
            raise NotEnoughShares(self.missing)
        mnemonics = list(self._mnemonics.values())
        self._mnemonics.clear()
        try:
            private_key = X25519PrivateKey.from_private_bytes(
                shamir_mnemonic.combine_mnemonics(mnemonics)
            )
        except (shamir_mnemonic.MnemonicError, ValueError):
            raise ShareRefused("These shares do not rebuild this tender's key.") from None
        if private_key.public_key().public_bytes_raw() != self.tender_public_key:
            raise ShareRefused("These shares do not rebuild this tender's key.")
        opened = [_open_bid(private_key, self.tender_id, bid) for bid in bids]
        del private_key
        return opened


def _open_bid(private_key: X25519PrivateKey, tender_id: str, bid: RecordedBid) -> OpenedBid:
    def tampered(fault: str) -> OpenedBid:
        return OpenedBid(bid_id=bid.bid_id, version=bid.version, content=None, fault=fault)

    if hashlib.sha256(bid.blob).hexdigest() != bid.sha256.lower():
        return tampered("The sealed bid does not match the SHA-256 on its receipt.")
    if not bid.blob.startswith(_BID_FORMAT):
        return tampered("The sealed bid is of an unknown format.")
    binding = _binding(_BID_FORMAT, tender_id, bid.bid_id, str(bid.version))
    wrapped_key = bid.blob[len(_BID_FORMAT) : len(_BID_FORMAT) + _WRAPPED_KEY_BYTES]
    try:
        data_key = _decrypt_with(private_key, wrapped_key, binding)
        content = AESGCM(data_key).decrypt(
            _ZERO_NONCE, bid.blob[len(_BID_FORMAT) + _WRAPPED_KEY_BYTES :], binding
        )
    except (InvalidTag, ValueError):
        return tampered(
            "The sealed bid fails authentication: altered, or sealed for another bid or tender."
        )
    return OpenedBid(bid_id=bid.bid_id, version=bid.version, content=content)


def _binding(label: bytes, *parts: str) -> bytes:
    """Associated data: each part length-prefixed, so ("ab", "c") and ("a", "bc") differ."""
    encoded = [part.encode() for part in parts]
    return label + b"".join(len(part).to_bytes(4, "big") + part for part in encoded)


def _encrypt_to(recipient: X25519PublicKey, plaintext: bytes, binding: bytes) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    key = _shared_key(ephemeral.exchange(recipient), ephemeral_public, recipient.public_bytes_raw())
    return ephemeral_public + AESGCM(key).encrypt(_ZERO_NONCE, plaintext, binding)


def _decrypt_with(recipient: X25519PrivateKey, ciphertext: bytes, binding: bytes) -> bytes:
    """Raises `InvalidTag` or `ValueError` (a malformed or low-order ephemeral key)."""
    ephemeral_public = ciphertext[:_KEY_BYTES]
    shared = recipient.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    key = _shared_key(shared, ephemeral_public, recipient.public_key().public_bytes_raw())
    return AESGCM(key).decrypt(_ZERO_NONCE, ciphertext[_KEY_BYTES:], binding)


def _shared_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_BYTES,
        salt=None,
        info=b"portal procurement ECIES v1" + ephemeral_public + recipient_public,
    ).derive(shared)
