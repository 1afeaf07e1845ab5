"""ISO 11649 structured creditor references ("RF" references).

A payer can quote one on a bank transfer; the two check digits (ISO 7064 mod 97-10, as in
IBANs) catch typing mistakes.
"""

from __future__ import annotations

import re

_BODY = re.compile(r"[A-Z0-9]{1,21}")
_REFERENCE = re.compile(r"RF[0-9]{2}(?P<body>[A-Z0-9]{1,21})")


def _numeric(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


def creditor_reference(body: str) -> str:
    """``RFkk<body>`` for an alphanumeric ``body`` of at most 21 characters."""
    body = body.upper()
    if not _BODY.fullmatch(body):
        raise ValueError("a creditor reference body is 1 to 21 letters or digits")
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid_reference(reference: str) -> bool:
    """True for a well-formed RF reference (spaces allowed, as printed on paper, and either
    case): exactly the check digits :func:`creditor_reference` gives its body. Those are 02
    to 98, so the 01 (or 00) that the bare mod-97 test also accepts in place of 98 (97) is
    refused."""
    compact = reference.replace(" ", "").upper()
    found = _REFERENCE.fullmatch(compact)
    return found is not None and creditor_reference(found["body"]) == compact


def printed(reference: str) -> str:
    """The reference in groups of four, as it is printed on bills and receipts."""
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
