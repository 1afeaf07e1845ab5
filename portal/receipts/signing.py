"""PAdES signatures on receipts with pyHanko, using the portal's certificate and key.

The key and certificate come from settings (``receipts.signing_key``, ``receipts.signing_cert``);
``make run`` generates a self-signed development pair under ``var/receipts/``.
"""

from __future__ import annotations

import io
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from portal.settings import SettingsError


class MetadataPreservingWriter(IncrementalPdfFileWriter):
    """pyHanko rewrites the document's XMP metadata when it writes an update, and would drop
    the PDF/A identification WeasyPrint put there; a receipt keeps its metadata as rendered."""

    def _update_meta(self):
        return None


class ReceiptSigner:
    def __init__(self, key_path: str, cert_path: str):
        for path, name in (
            (key_path, "receipts.signing_key"),
            (cert_path, "receipts.signing_cert"),
        ):
            if not path or not Path(path).is_file():
                raise SettingsError(f"{name} must name a readable PEM file (got {path!r})")
        self._signer = signers.SimpleSigner.load(key_path, cert_path)
        self.cert_path = cert_path

    @classmethod
    def from_settings(cls, settings) -> ReceiptSigner:
        return cls(
            settings.get("receipts.signing_key", ""), settings.get("receipts.signing_cert", "")
        )

    def sign(self, pdf: bytes, reason: str, location: str) -> bytes:
        """A PAdES baseline (B-B) signature over the whole document, as an incremental update,
        so the PDF/A content underneath stays as rendered."""
        writer = MetadataPreservingWriter(io.BytesIO(pdf))
        metadata = signers.PdfSignatureMetadata(
            field_name="ReceiptSignature",
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        out = signers.sign_pdf(writer, metadata, signer=self._signer)
        return out.getvalue()
