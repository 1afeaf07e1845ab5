"""camt.053 and camt.054 files of the tests' account (see :mod:`portal.scripts.camt_files`)."""

from __future__ import annotations

from portal.scripts import camt_files
from portal.scripts.camt_files import Batch, Credit
from tests.conftest import TRANSFER_IBAN

__all__ = ["Batch", "Credit", "camt"]


def camt(kind: str, statement_id: str, credits: list, **options) -> bytes:
    options.setdefault("iban", TRANSFER_IBAN)
    return camt_files.camt(kind, statement_id, credits, **options)
