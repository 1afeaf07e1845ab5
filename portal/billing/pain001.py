"""Writing ISO 20022 pain.001.001.03 credit-transfer files (SEPA credit transfers, as every
bank of the euro area accepts them from its customers): the portal's refunds of bank
transfers, which a clerk uploads to the authority's bank.

Built with lxml in the schema's element order; what the schema restricts (identifiers of at
most 35 characters, names of 70, remittance of 140, amounts above zero with two decimals,
IBANs and BICs) is checked or trimmed here, so the file is valid against the official XSD
(the tests check it against ``tests/iso20022/pain.001.001.03.xsd``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from lxml import etree

from portal.billing.transfer import TransferAccount, is_valid_iban
from portal.money import Money

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
#: SEPA credit transfers are in euro
CURRENCY = "EUR"
_ID = re.compile(r"[A-Za-z0-9/?:().,'+ -]{1,35}")
#: what no ISO 20022 text may hold: C0 and C1 controls, DEL, and what XML cannot carry at all
#: (surrogates, U+FFFE, U+FFFF), which a bill's number or description sent through the API
#: might hold
_NOT_TEXT = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TransferFileError(ValueError):
    """A transfer the file cannot carry (the message says which and why, no personal data)."""


@dataclass(frozen=True)
class Transfer:
    """One credit transfer: ``end_to_end_id`` comes back on the bank statement's debit."""

    end_to_end_id: str
    amount: Money
    creditor_name: str
    creditor_iban: str
    remittance: str


def _text(value: str, length: int) -> str:
    return _NOT_TEXT.sub(" ", value).strip()[:length] or "-"


def _decimal(amount: Money) -> str:
    euros, cents = divmod(amount.minor, 100)
    return f"{euros}.{cents:02d}"


def _add(parent, tag: str, text: str | None = None, **attributes):
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _path(parent, tags: str, text: str | None = None):
    *above, last = tags.split("/")
    for tag in above:
        parent = _add(parent, tag)
    return _add(parent, last, text)


def check(transfer: Transfer) -> None:
    """Refuse a transfer the file cannot carry."""
    if transfer.amount.currency != CURRENCY or transfer.amount.minor <= 0:
        raise TransferFileError(f"transfer {transfer.end_to_end_id}: not an amount in euro")
    if not is_valid_iban(transfer.creditor_iban):
        raise TransferFileError(f"transfer {transfer.end_to_end_id}: no valid IBAN")
    if not _ID.fullmatch(transfer.end_to_end_id):
        raise TransferFileError("an end-to-end id is not an ISO 20022 identifier")


def credit_transfers(
    *,
    message_id: str,
    created_at: dt.datetime,
    execution_date: dt.date,
    debtor: TransferAccount,
    transfers: list[Transfer],
) -> bytes:
    """A pain.001.001.03 file of ``transfers`` from ``debtor``'s account (the authority's),
    to be carried out on ``execution_date``: one payment information block, charges shared
    as SEPA requires (SLEV)."""
    if not transfers:
        raise TransferFileError("a credit-transfer file needs at least one transfer")
    if not _ID.fullmatch(message_id):
        raise TransferFileError("the message id is not an ISO 20022 identifier")
    for transfer in transfers:
        check(transfer)
    total = Money(sum(t.amount.minor for t in transfers), CURRENCY)
    count = str(len(transfers))
    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    initiation = _add(document, "CstmrCdtTrfInitn")
    header = _add(initiation, "GrpHdr")
    _add(header, "MsgId", message_id)
    _add(header, "CreDtTm", created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    _add(header, "NbOfTxs", count)
    _add(header, "CtrlSum", _decimal(total))
    _path(header, "InitgPty/Nm", _text(debtor.beneficiary, 70))
    information = _add(initiation, "PmtInf")
    _add(information, "PmtInfId", message_id)
    _add(information, "PmtMtd", "TRF")
    _add(information, "BtchBookg", "false")
    _add(information, "NbOfTxs", count)
    _add(information, "CtrlSum", _decimal(total))
    _path(information, "PmtTpInf/SvcLvl/Cd", "SEPA")
    _add(information, "ReqdExctnDt", execution_date.isoformat())
    _path(information, "Dbtr/Nm", _text(debtor.beneficiary, 70))
    _path(information, "DbtrAcct/Id/IBAN", debtor.iban)
    agent = _add(information, "DbtrAgt")
    if debtor.bic:
        _path(agent, "FinInstnId/BIC", debtor.bic)
    else:
        _path(agent, "FinInstnId/Othr/Id", "NOTPROVIDED")
    _add(information, "ChrgBr", "SLEV")
    for transfer in transfers:
        item = _add(information, "CdtTrfTxInf")
        _path(item, "PmtId/EndToEndId", transfer.end_to_end_id)
        _path(item, "Amt/InstdAmt", _decimal(transfer.amount)).set("Ccy", CURRENCY)
        _path(item, "Cdtr/Nm", _text(transfer.creditor_name, 70))
        _path(item, "CdtrAcct/Id/IBAN", transfer.creditor_iban)
        _path(item, "RmtInf/Ustrd", _text(transfer.remittance, 140))
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
