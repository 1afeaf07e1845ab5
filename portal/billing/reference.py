"""ISO 11649 structured creditor references ("RF" references).

A payer can quote one on a bank transfer; the two check digits (ISO 7064 mod 97-10, as in
IBANs) catch typing mistakes.
"""

from __future__ import annotations

import re

_BODY = re.compile(r"^[A-Z0-9]{1,21}$")


def _numeric(text: str) -> int:
    return int("".join(str(int(char, 36)) for char in text))


def creditor_reference(body: str) -> str:
    """``RFkk<body>`` for an alphanumeric ``body`` of at most 21 characters."""
    body = body.upper()
    if not _BODY.match(body):
        raise ValueError("a creditor reference body is 1 to 21 letters or digits")
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid_reference(reference: str) -> bool:
    """True for a well-formed RF reference (spaces allowed, as printed on paper)."""
    compact = reference.replace(" ", "").upper()
    if not re.match(r"^RF[0-9]{2}[A-Z0-9]{1,21}$", compact):
        return False
    return _numeric(compact[4:] + compact[:4]) % 97 == 1


def printed(reference: str) -> str:
    """The reference in groups of four, as it is printed on bills and receipts."""
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
