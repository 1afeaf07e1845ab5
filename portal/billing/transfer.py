"""Paying a bill by bank transfer: the authority's account (from settings, checked at
start-up) and the EPC QR code ("GiroCode") that banking apps read.

The QR code follows the European Payments Council's EPC069-12 (version 002): twelve lines,
UTF-8, error correction level M. The bill's RF creditor reference goes in the structured
remittance field, so the bank statement line quotes it back and the import can match it;
the standard allows structured or unstructured remittance, not both, so the bill number is
given as the beneficiary-to-originator information (shown by the banking app, not sent on).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass

import qrcode
import qrcode.constants
from PIL import Image

from portal.money import Money
from portal.settings import SettingsError

IBAN_SETTING = "billing.transfer.iban"
BENEFICIARY_SETTING = "billing.transfer.beneficiary"
BIC_SETTING = "billing.transfer.bic"

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
#: EPC069-12: the largest amount a code may carry
_EPC_MAX_MINOR = 999_999_999_99
QR_PIXELS = 240


def compact_iban(iban: str) -> str:
    return iban.replace(" ", "").upper()


def is_valid_iban(iban: str) -> bool:
    """ISO 13616: the shape, then the ISO 7064 mod 97-10 check digits (the country code and
    check digits moved to the end, letters as 10..35, the number mod 97 is 1)."""
    compact = compact_iban(iban)
    if not _IBAN.fullmatch(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def printed_iban(iban: str) -> str:
    """The IBAN in groups of four, as it is printed on bills."""
    compact = compact_iban(iban)
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


@dataclass(frozen=True)
class TransferAccount:
    """Where payers send transfers: the authority's account."""

    iban: str
    beneficiary: str
    bic: str = ""


def transfer_account(settings) -> TransferAccount | None:
    """The account from settings; None where none is configured (no transfer instructions
    are shown). A mistyped IBAN or BIC stops the start-up: a wrong account on every bill
    would send citizens' money astray."""
    iban = compact_iban(str(settings.get(IBAN_SETTING) or ""))
    beneficiary = str(settings.get(BENEFICIARY_SETTING) or "").strip()
    bic = str(settings.get(BIC_SETTING) or "").replace(" ", "").upper()
    if not iban:
        return None
    if not is_valid_iban(iban):
        raise SettingsError(f"{IBAN_SETTING} is not a valid IBAN (its check digits are wrong)")
    if not beneficiary or len(beneficiary) > 70:
        raise SettingsError(f"{BENEFICIARY_SETTING} must be the account holder's name (1-70)")
    if bic and not _BIC.fullmatch(bic):
        raise SettingsError(f"{BIC_SETTING} is not a BIC")
    return TransferAccount(iban=iban, beneficiary=beneficiary, bic=bic)


def epc_payload(account: TransferAccount, amount: Money, reference: str, information: str) -> str:
    """The EPC069-12 text of a transfer of ``amount`` (euro only) quoting ``reference``."""
    if amount.currency != "EUR" or not 1 <= amount.minor <= _EPC_MAX_MINOR:
        raise ValueError("an EPC QR code carries an amount in euro, 0.01 to 999999999.99")
    euros, cents = divmod(amount.minor, 100)
    return "\n".join(
        [
            "BCD",
            "002",
            "1",  # UTF-8
            "SCT",
            account.bic,
            account.beneficiary,
            account.iban,
            f"EUR{euros}.{cents:02d}",
            "",  # purpose code
            reference.replace(" ", "").upper(),
            "",  # unstructured remittance: not with a structured one
            information[:70],
        ]
    )


def qr_png_data_uri(text: str) -> str:
    """The QR code of ``text`` (error correction M, as EPC069-12 requires) as a PNG data URI
    of whole pixels per module, so that it stays sharp when scaled."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text.encode())
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    scale = QR_PIXELS // size + 1
    image = Image.frombytes("L", (size, size), pixels).resize(
        (size * scale, size * scale), Image.Resampling.NEAREST
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
