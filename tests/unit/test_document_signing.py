"""Signatures are sized once per signer (pyHanko's ``bytes_reserved``), not by a dry run per
document, and every later signature fits in the room measured on the first; their CMS
structure is made from the first one's, as pyHanko would build it."""

import asyncio
import datetime as dt
import hashlib
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.documents.render import write_pdf
from portal.documents.signing import CmsReusingSigner, DocumentSigner, KeyParsedOnceSigner
from portal.scripts.dev_keys import SIGNING_EXTENSIONS


def signer_with(tmp_path, key) -> DocumentSigner:
    """A signer whose self-signed certificate has a long subject (the certificate is the only
    variable-size part of the CMS the signer embeds, with the signature)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Public Services Payments – documents"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "City of Example – Public Services"),
            *[
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Revenue Office {n}" * 3)
                for n in range(8)
            ],
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SI"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    for extension, critical in SIGNING_EXTENSIONS:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(key, hashes.SHA512())
    key_path, cert_path = tmp_path / "signing.key", tmp_path / "signing.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return DocumentSigner(str(key_path), str(cert_path))


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=4096),
        ec.generate_private_key(ec.SECP521R1()),  # its signatures vary in length
    ],
    ids=["rsa-4096", "ecdsa-p521"],
)
def test_signatures_fit_the_room_measured_on_the_first(tmp_path, key, monkeypatch):
    signer = signer_with(tmp_path, key)
    pdf = write_pdf("<p>A document</p>", pdf_variant="pdf/a-3b")
    assert signer.bytes_reserved is None
    first = signer.sign(pdf, reason="Receipt R-2026-000001", location="City of Example")
    assert signer.bytes_reserved is not None
    raw_signatures = []
    sign_raw = KeyParsedOnceSigner.sign_raw
    monkeypatch.setattr(
        KeyParsedOnceSigner,
        "sign_raw",
        lambda self, *args: raw_signatures.append(1) or sign_raw(self, *args),
    )
    later = [
        signer.sign(pdf, reason=f"Receipt R-2026-{n:06d}", location="City of Example " * n)
        for n in range(2, 12)
    ]
    assert len(raw_signatures) == len(later)  # no dry run to size them
    trust = load_cert_from_pemder(signer.cert_path)
    for signed in [first, *later]:
        (signature,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[trust]))
        assert status.bottom_line and status.intact and status.valid
        if signed is not first:  # the first is sized by pyHanko's dry run
            assert len(signature.pkcs7_content) * 2 == signer.bytes_reserved


def test_later_signatures_are_the_structure_pyhanko_builds(tmp_path, monkeypatch):
    """RSA PKCS#1 v1.5 signatures are deterministic: the CMS made from the first signature's
    structure is byte for byte the one pyHanko builds for the same digest and key."""
    signer = signer_with(tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    cms_signer = signer._signer

    def sign(digest: bytes, how=CmsReusingSigner.async_sign):
        attributes = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
        signing = how(cms_signer, digest, "sha256", use_pades=True, signed_attr_settings=attributes)
        return asyncio.run(signing).dump()

    first, later = (hashlib.sha256(text).digest() for text in (b"first", b"later"))
    sign(first)
    built = []
    package = signers.Signer._package_signature
    monkeypatch.setattr(
        signers.Signer,
        "_package_signature",
        lambda self, **kwargs: built.append(1) or package(self, **kwargs),
    )
    reused = sign(later)
    assert not built  # not built anew
    assert reused == sign(later, how=signers.Signer.async_sign)
    assert built


def test_a_document_is_signed_by_code_running_in_an_event_loop(tmp_path):
    """A task run inline by a caller with an event loop (an async worker, Playwright's
    synchronous API) signs its document like any other."""
    signer = signer_with(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    pdf = write_pdf("<p>A document</p>", pdf_variant="pdf/a-3b")

    async def inside_a_loop():
        return signer.sign(pdf, reason="Receipt R-2026-000001", location="City of Example")

    signed = asyncio.run(inside_a_loop())
    (signature,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    trust = load_cert_from_pemder(signer.cert_path)
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[trust]))
    assert status.bottom_line and status.intact and status.valid
