"""The IdP key pair and the demo people the portal's demo data relies on."""

import stat

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from portal.devidp.keys import ensure_key_pair
from portal.devidp.personas import PERSONAS, PERSONAS_BY_ID


def test_key_pair_is_generated_once_then_reused(tmp_path):
    key_path, cert_path = ensure_key_pair(tmp_path / "state")
    first = (key_path.read_bytes(), cert_path.read_bytes())

    assert ensure_key_pair(tmp_path / "state") == (key_path, cert_path)
    assert (key_path.read_bytes(), cert_path.read_bytes()) == first
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(first[1])
    assert cert.public_key().key_size == 2048
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_personas_are_exactly_the_demo_people():
    summary = {
        p.id: (p.display_name, p.national_id, p.org_reg_number, p.org_name, p.groups)
        for p in PERSONAS
    }

    assert summary == {
        "citizen-ana": ("Ana Novak", "19800101-1234", None, None, ()),
        "citizen-ben": ("Ben Kovač", "19750505-5678", None, None, ()),
        "citizen-chloe": ("Chloe Horvat", "19900909-9012", None, None, ()),
        "rep-olga": ("Olga Marin", "19820202-2222", "NW-100200", "Northwind Supplies Ltd", ()),
        "rep-peter": ("Peter Vidmar", "19830303-3333", "SG-300400", "Southgate Builders Ltd", ()),
        "clerk-clara": ("Clara Zupan", None, None, None, ("clerk:revenue",)),
        "clerk-eva": ("Eva Bizjak", None, None, None, ("clerk:revenue",)),
        "clerk-dan": ("Dan Kralj", None, None, None, ("clerk:registry",)),
        "clerk-mia": ("Mia Kos", None, None, None, ("clerk:procurement",)),
        "buyer-bruno": ("Bruno Bregar", None, None, None, ("buyer:procurement",)),
        "rep-quinn": ("Quinn Hribar", "19840404-4444", "EB-500600", "Eastbridge Works Ltd", ()),
        "reviewer-rita": ("Rita Golob", None, None, None, ("reviewer",)),
        "auditor-ana": ("Ana Kralj", None, None, None, ("auditor",)),
        "admin-ada": ("Ada Lovrec", None, None, None, ("admin", "clerk:revenue")),
    }
    assert PERSONAS_BY_ID["citizen-ana"].mail == "ana.novak@example.org"
    assert PERSONAS_BY_ID["citizen-ben"].mail == "ben.kovac@example.org"
    assert PERSONAS_BY_ID["citizen-chloe"].mail == "chloe.horvat@example.org"


def test_attributes_leave_out_what_a_persona_does_not_have():
    assert PERSONAS_BY_ID["citizen-ana"].attributes() == {
        "uid": ["citizen-ana"],
        "givenName": ["Ana"],
        "sn": ["Novak"],
        "mail": ["ana.novak@example.org"],
        "nationalId": ["19800101-1234"],
    }
    assert PERSONAS_BY_ID["admin-ada"].attributes()["groups"] == ["admin", "clerk:revenue"]
