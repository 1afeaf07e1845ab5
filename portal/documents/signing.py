"""PAdES signatures on documents with pyHanko, using the portal's certificate and key.

The key and certificate come from settings (``receipts.signing_key``, ``receipts.signing_cert``);
``make run`` generates a self-signed development pair under ``var/receipts/``. The settings
keep their ``receipts.`` prefix so deployments need no change; every kind of document uses them.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from portal.settings import SettingsError


class MetadataPreservingWriter(IncrementalPdfFileWriter):
    """pyHanko rewrites the document's XMP metadata when it writes an update, and would drop
    the PDF/A identification WeasyPrint put there; a document keeps its metadata as rendered."""

    def _update_meta(self):
        return None


class KeyParsedOnceSigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner parses its private key again, RSA consistency checks and all,
    for each signature it makes (and for the dry run sizing the first document's signature):
    a third of the signing time. This one parses it once; the usual RSA PKCS#1 v1.5 and ECDSA
    signatures use that key, any other mechanism goes through pyHanko as before."""

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        key = self.__dict__.get("_parsed_key")
        if key is None:
            key = serialization.load_der_private_key(self.signing_key.dump(), password=None)
            self._parsed_key = key
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), hash_algorithm)
        if mechanism == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(hash_algorithm))
        return super().sign_raw(data, digest_algorithm)


class CmsReusingSigner(KeyParsedOnceSigner):
    """pyHanko builds each signature's CMS structure anew with asn1crypto (the signed
    attributes, the SignerInfo, the certificate set): three quarters of the signing time.
    In a document's PAdES signature (no timestamp, no CAdES or Adobe attributes) two values
    of that structure change from one document to the next: the document's digest in the
    messageDigest attribute, and the signature over the signed attributes. This signer keeps
    the first structure pyHanko builds for a digest algorithm and makes each later one from
    it with the new digest and signature: byte for byte the structure pyHanko builds
    (``tests/unit/test_document_signing.py`` compares them with a deterministic RSA key).
    Any other signature (a dry run, a timestamp, other attributes) goes through pyHanko."""

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run=False,
        use_pades=False,
        timestamper=None,
        signed_attr_settings=None,
        is_pdf_sig=True,
        encap_content_info=None,
    ) -> cms.ContentInfo:
        settings = signed_attr_settings
        plain = (
            use_pades
            and is_pdf_sig
            and not dry_run
            and timestamper is None
            and encap_content_info is None
            and self.signed_attr_prov_spec is None
            and self.unsigned_attr_prov_spec is None
            and (
                settings is None
                or (settings.cades_signed_attrs is None and settings.adobe_revinfo_attr is None)
            )
        )
        templates = self.__dict__.setdefault("_templates", {})
        template = templates.get(digest_algorithm) if plain else None
        if template is not None:
            return template.signed(self, data_digest, digest_algorithm)
        signed = await super().async_sign(
            data_digest,
            digest_algorithm,
            dry_run=dry_run,
            use_pades=use_pades,
            timestamper=timestamper,
            signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig,
            encap_content_info=encap_content_info,
        )
        if plain and digest_algorithm not in templates:
            templates[digest_algorithm] = _CmsTemplate.of(signed, data_digest)
        return signed


class _CmsTemplate:
    """A signature's CMS structure, with where its signed attributes hold the digest."""

    def __init__(self, der: bytes, attributes_before: bytes, attributes_after: bytes):
        self.der = der
        self.attributes_before = attributes_before
        self.attributes_after = attributes_after

    @classmethod
    def of(cls, signed: cms.ContentInfo, digest: bytes) -> _CmsTemplate | None:
        attributes = signed["content"]["signer_infos"][0]["signed_attrs"].untag().dump()
        if attributes.count(digest) != 1:
            return None  # cannot tell where the digest is: always through pyHanko
        at = attributes.index(digest)
        return cls(signed.dump(), attributes[:at], attributes[at + len(digest) :])

    def signed(self, signer, digest: bytes, digest_algorithm: str) -> cms.ContentInfo:
        """The structure with ``digest`` in its signed attributes, and their signature
        (made as pyHanko makes it: over the attributes' DER as a SET)."""
        attributes = self.attributes_before + digest + self.attributes_after
        signed = cms.ContentInfo.load(self.der)
        signer_info = signed["content"]["signer_infos"][0]
        signer_info["signed_attrs"] = cms.CMSAttributes.load(attributes)
        signer_info["signature"] = signer.sign_raw(attributes, digest_algorithm)
        return signed


class DocumentSigner:
    def __init__(self, key_path: str, cert_path: str):
        for path, name in (
            (key_path, "receipts.signing_key"),
            (cert_path, "receipts.signing_cert"),
        ):
            if not path or not Path(path).is_file():
                raise SettingsError(f"{name} must name a readable PEM file (got {path!r})")
        loaded = signers.SimpleSigner.load(key_path, cert_path)
        self._signer = CmsReusingSigner(
            signing_key=loaded.signing_key,
            signing_cert=loaded.signing_cert,
            cert_registry=loaded.cert_registry,
        )
        self.cert_path = cert_path
        #: the hex digits kept for the signature in a document, measured on the first one
        self.bytes_reserved: int | None = None

    @classmethod
    def from_settings(cls, settings) -> DocumentSigner:
        return cls(
            settings.get("receipts.signing_key", ""), settings.get("receipts.signing_cert", "")
        )

    def sign(self, pdf: bytes, reason: str, location: str) -> bytes:
        """A PAdES baseline (B-B) signature over the whole document, as an incremental update,
        so the PDF/A content underneath stays as rendered."""
        writer = MetadataPreservingWriter(io.BytesIO(pdf))
        metadata = signers.PdfSignatureMetadata(
            field_name="DocumentSignature",
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        signing = signers.async_sign_pdf(
            writer, metadata, signer=self._signer, bytes_reserved=self.bytes_reserved
        )
        out = run_to_completion(signing).getvalue()
        if self.bytes_reserved is None:
            self.bytes_reserved = reserve_for(out)
        return out


def run_to_completion(coroutine):
    """The result of ``coroutine``, from synchronous code whether or not this thread is
    already running an event loop (pyHanko's own ``sign_pdf`` calls ``asyncio.run``, which
    refuses inside one: a document made by a task that a caller with a loop runs inline, as
    an async worker or Playwright's synchronous API does, would never be signed)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


#: room kept beyond a measured signature (DER bytes): an ECDSA signature's length varies by a
#: few bytes; nothing else in a PAdES B-B signature with this signer changes between documents
SIGNATURE_MARGIN = 64


def reserve_for(signed: bytes) -> int:
    """``bytes_reserved`` for documents signed like ``signed``: its signature's CMS (DER)
    length, an eighth and :data:`SIGNATURE_MARGIN` more, as hex digits (twice the bytes).

    Without it pyHanko sizes each signature by making a whole one first (a dry run), which
    costs as much as the signature itself; the signer, its certificates and what it signs do
    not change between documents, so the size measured on the first document holds for all."""
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    cms = reader.embedded_signatures[-1].pkcs7_content
    count = cms[1] & 0x7F if cms[1] & 0x80 else 0
    length = 2 + count + (int.from_bytes(cms[2 : 2 + count], "big") if count else cms[1])
    return 2 * (length + length // 8 + SIGNATURE_MARGIN)
