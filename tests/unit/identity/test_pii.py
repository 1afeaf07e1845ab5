"""How a national identifier is masked on clerks' pages; bytes kept encrypted at rest."""

import pytest
from cryptography.fernet import Fernet

from portal.identity.pii import MASK, PersonalDataVault, UnreadableToken, masked


@pytest.mark.parametrize(
    ("national_id", "shown"),
    [
        ("19800101-1234", MASK + "1234"),
        ("1980010112345678", MASK + "5678"),
        ("12345678", MASK),  # too short: four shown would be half of it
        ("1234", MASK),
        (None, None),
        ("", ""),
    ],
)
def test_only_the_last_four_characters_of_a_long_enough_identifier_are_shown(national_id, shown):
    assert masked(national_id) == shown


def test_the_mask_does_not_tell_how_long_the_identifier_is():
    assert len(masked("19800101-1234")) == len(masked("1980010112345678"))


def vault(key: bytes) -> PersonalDataVault:
    return PersonalDataVault("hmac-key", key.decode())


def test_bytes_come_back_exactly_and_are_not_in_the_token():
    key = Fernet.generate_key()
    data = b"  price 9876543.21 \x00\xff  "
    token = vault(key).encrypt_bytes(data)
    assert b"9876543" not in token and data.hex().encode() not in token
    assert vault(key).decrypt_bytes(token) == data  # whitespace and binary kept
    assert vault(key).encrypt_bytes(data) != token  # a fresh IV each time


def test_another_key_or_an_altered_token_is_a_clear_error():
    key = Fernet.generate_key()
    token = vault(key).encrypt_bytes(b"draft")
    with pytest.raises(UnreadableToken, match="pii_encryption_key"):
        vault(Fernet.generate_key()).decrypt_bytes(token)
    altered = token[:-5] + (b"A" if token[-5:-4] != b"A" else b"B") + token[-4:]
    with pytest.raises(UnreadableToken):
        vault(key).decrypt_bytes(altered)
