"""Writing camt.053 and camt.054 files, in ISO 20022's .001.02 or .001.08 layout, as a bank
sends them: for the demo's statement, the sample files in ``samples/camt/`` and the tests.
Built with lxml, element by element in the schemas' order (``tests/iso20022`` holds the
official XSDs the files are checked against)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree


@dataclass
class Credit:
    amount: str  # "120.00"
    reference: str = ""  # the RF creditor reference, structured
    text: str = ""  # unstructured remittance
    servicer_reference: str = ""
    end_to_end: str = "NOTPROVIDED"
    booked: str = "2026-12-04"
    currency: str = "EUR"
    debit: bool = False
    reversal: bool = False  # RvslInd: the entry reverses an earlier one of the other direction
    debtor_iban: str = ""  # the payer's account (the creditor's, for a debit)
    name: str = "A Payer"


@dataclass
class Batch:
    """One entry booking several transactions at once (a bank's batch of credits)."""

    transactions: list[Credit]
    servicer_reference: str = ""
    #: what the entry says it books; by default what the transactions add up to
    amount: str | None = None
    booked: str = "2026-12-04"
    currency: str = "EUR"
    debit: bool = False


def _add(parent, tag: str, text: str | None = None, **attributes):
    element = etree.SubElement(parent, f"{{{parent.nsmap[None]}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _path(parent, tags: str, text: str | None = None):
    """``A/B/C`` under ``parent``, the last with ``text``."""
    *above, last = tags.split("/")
    for tag in above:
        parent = _add(parent, tag)
    return _add(parent, last, text)


def _transaction(details, credit: Credit, version: str, single: bool) -> None:
    transaction = _add(details, "TxDtls")
    refs = _add(transaction, "Refs")
    if credit.servicer_reference:
        _add(refs, "AcctSvcrRef", credit.servicer_reference)
    _add(refs, "EndToEndId", credit.end_to_end)
    if version == "08":
        _add(transaction, "Amt", credit.amount, Ccy=credit.currency)
        _add(transaction, "CdtDbtInd", "DBIT" if credit.debit else "CRDT")
    elif not single:
        amount = _path(transaction, "AmtDtls/TxAmt/Amt", credit.amount)
        amount.set("Ccy", credit.currency)
    parties = _add(transaction, "RltdPties")
    # the other party: who paid a credit, who was paid by a debit
    party, account = ("Cdtr", "CdtrAcct") if credit.debit else ("Dbtr", "DbtrAcct")
    _path(parties, f"{party}/Pty/Nm" if version == "08" else f"{party}/Nm", credit.name)
    if credit.debtor_iban:
        _path(parties, f"{account}/Id/IBAN", credit.debtor_iban)
    if credit.text or credit.reference:
        remittance = _add(transaction, "RmtInf")
        if credit.text:
            _add(remittance, "Ustrd", credit.text)
        if credit.reference:
            information = _path(remittance, "Strd/CdtrRefInf")
            kind = _add(information, "Tp")
            _path(kind, "CdOrPrtry/Cd", "SCOR")
            _add(kind, "Issr", "ISO")
            _add(information, "Ref", credit.reference)


def _entry(
    report,
    version: str,
    *,
    amount: str,
    currency: str,
    debit: bool,
    reversal: bool,
    booked: str,
    servicer_reference: str,
    transactions: list[Credit],
) -> None:
    entry = _add(report, "Ntry")
    _add(entry, "Amt", amount, Ccy=currency)
    _add(entry, "CdtDbtInd", "DBIT" if debit else "CRDT")
    if reversal:
        _add(entry, "RvslInd", "true")
    if version == "08":
        _path(entry, "Sts/Cd", "BOOK")
    else:
        _add(entry, "Sts", "BOOK")
    _path(entry, "BookgDt/Dt", booked)
    _path(entry, "ValDt/Dt", booked)
    if servicer_reference:
        _add(entry, "AcctSvcrRef", servicer_reference)
    domain = _path(entry, "BkTxCd/Domn")
    _add(domain, "Cd", "PMNT")
    family = _add(domain, "Fmly")
    _add(family, "Cd", "ICDT" if debit else "RCDT")
    _add(family, "SubFmlyCd", "ESCT")
    details = _path(entry, "NtryDtls")
    for credit in transactions:
        _transaction(details, credit, version, single=len(transactions) == 1)


def _sum(credits: list[Credit], debit: bool) -> str:
    total = sum((Decimal(c.amount) * (1 if c.debit == debit else -1) for c in credits), Decimal(0))
    return f"{total:.2f}"


def camt(
    kind: str,
    statement_id: str,
    credits: list[Credit | Batch],
    *,
    iban: str,
    version: str = "02",
    created: str = "2026-12-04T18:00:00",
) -> bytes:
    """A camt.053 (``kind`` "053") or camt.054 ("054") file of one account's ``credits``
    (each its own entry, or a :class:`Batch` of several in one entry)."""
    namespace = f"urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}"
    message, report_tag = (
        ("BkToCstmrStmt", "Stmt") if kind == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    )
    document = etree.Element(f"{{{namespace}}}Document", nsmap={None: namespace})
    body = _add(document, message)
    header = _add(body, "GrpHdr")
    _add(header, "MsgId", f"MSG-{statement_id}"[:35])
    _add(header, "CreDtTm", created)
    report = _add(body, report_tag)
    _add(report, "Id", statement_id)
    _add(report, "CreDtTm", created)
    _path(report, "Acct/Id/IBAN", iban)
    if kind == "053":
        balance = _add(report, "Bal")
        _path(balance, "Tp/CdOrPrtry/Cd", "CLBD")
        _add(balance, "Amt", "0.00", Ccy="EUR")
        _add(balance, "CdtDbtInd", "CRDT")
        _path(balance, "Dt/Dt", created[:10])
    for item in credits:
        if isinstance(item, Batch):
            _entry(
                report,
                version,
                amount=item.amount or _sum(item.transactions, item.debit),
                currency=item.currency,
                debit=item.debit,
                reversal=False,
                booked=item.booked,
                servicer_reference=item.servicer_reference,
                transactions=item.transactions,
            )
        else:
            _entry(
                report,
                version,
                amount=item.amount,
                currency=item.currency,
                debit=item.debit,
                reversal=item.reversal,
                booked=item.booked,
                servicer_reference=item.servicer_reference,
                transactions=[item],
            )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
