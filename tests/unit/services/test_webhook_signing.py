"""The signature the portal puts on a delivery is the one the reference receiver checks:
over the timestamp and the exact body, under any active secret, within its tolerance."""

from __future__ import annotations

from bench.webhook_receiver import verify
from portal.services.webhooks.signing import new_secret, signature_header

BODY = b'{"id":"evt_1","type":"bill.paid"}'
NOW = 1_800_000_000


def test_a_delivery_verifies_under_its_secret():
    secret = new_secret()
    assert verify(signature_header([secret], NOW, BODY), BODY, [secret], NOW + 10, 300)


def test_a_changed_body_another_secret_or_an_old_timestamp_does_not_verify():
    secret = new_secret()
    header = signature_header([secret], NOW, BODY)
    assert not verify(header, BODY.replace(b"paid", b"void"), [secret], NOW, 300)
    assert not verify(header, BODY, [new_secret()], NOW, 300)
    assert not verify(header, BODY, [secret], NOW + 301, 300)  # a replay, later
    assert not verify(header.replace(f"t={NOW}", f"t={NOW + 5}"), BODY, [secret], NOW, 300)


def test_during_a_rotation_either_secret_verifies():
    old, new = new_secret(), new_secret()
    header = signature_header([old, new], NOW, BODY)
    assert header.count("v1=") == 2
    assert verify(header, BODY, [old], NOW, 300)
    assert verify(header, BODY, [new], NOW, 300)
