"""Reading ISO 20022 bank statements: camt.053 (the end-of-day statement) and camt.054 (the
intraday debit/credit notification), versions .001.02 and .001.08.

Only what matching needs is read: the statement's id and account, and each booked credit
(one line per transaction of a batch-booked entry) with its amount, booking date, the
bank's references and the remittance information. Debits and pending entries are skipped.

The file comes from outside, so it is parsed by lxml with entity expansion, DTD loading and
network access off and no huge-tree allowance; a document that declares a DTD at all
(entities, external or not: the billion-laughs and XXE attacks) is refused outright, as is
anything that is not one of the four statement formats.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from lxml import etree

from portal.money import Money, MoneyError

#: camt message names and the element holding their statements (or notifications)
FORMATS = {
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02": ("camt.053", "BkToCstmrStmt", "Stmt"),
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08": ("camt.053", "BkToCstmrStmt", "Stmt"),
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02": (
        "camt.054",
        "BkToCstmrDbtCdtNtfctn",
        "Ntfctn",
    ),
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08": (
        "camt.054",
        "BkToCstmrDbtCdtNtfctn",
        "Ntfctn",
    ),
}
#: larger than any real day's statement of one account, small enough to parse at once
MAX_BYTES = 20 * 1024 * 1024


class CamtError(ValueError):
    """The file is not a statement this portal reads; the message says why (no file content)."""


@dataclass(frozen=True)
class CreditLine:
    """One credit to the account, as the bank reported it."""

    amount: Money
    booked_on: dt.date
    servicer_reference: str
    end_to_end_id: str
    creditor_reference: str
    remittance: str
    debtor_name: str
    #: the entry reverses an earlier debit (``RvslInd``): money come back, not a payer's
    #: payment, so it is never matched automatically
    reversal: bool = False

    def dedupe_key(self, iban: str) -> str:
        """What names this credit across files: the same credit reported intraday (camt.054)
        and again in the day's statement (camt.053) has the same key. The bank's own
        reference (AcctSvcrRef) when it gives one, which it keeps from notification to
        statement; otherwise the payer's end-to-end id with the amount and booking date (an
        end-to-end id alone is the payer's choice and may repeat, "NOTPROVIDED" often)."""
        if self.servicer_reference:
            basis = f"{iban}|ref|{self.servicer_reference}"
        else:
            basis = (
                f"{iban}|e2e|{self.end_to_end_id}|{self.amount.minor}|{self.amount.currency}"
                f"|{self.booked_on.isoformat()}"
            )
        return hashlib.sha256(basis.encode()).hexdigest()


@dataclass(frozen=True)
class Statement:
    kind: str  # "camt.053" or "camt.054"
    statement_id: str
    iban: str
    credits: list[CreditLine]
    #: booked debit entries reversing an earlier credit (``RvslInd``): the bank took back
    #: money that may have been posted to a bill, which a clerk must look at
    reversed_debits: int = 0


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes) -> list[Statement]:
    """The statements of one camt.053 or camt.054 file (a file may hold several accounts)."""
    if len(data) > MAX_BYTES:
        raise CamtError("the file is too large")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise CamtError("the file is not well-formed XML") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise CamtError("the file declares a DTD, which bank statements never do")
    namespace = etree.QName(root).namespace or ""
    if namespace not in FORMATS or etree.QName(root).localname != "Document":
        raise CamtError("the file is not a camt.053 or camt.054 statement")
    kind, message, report = FORMATS[namespace]
    ns = {"c": namespace}
    found = root.find(f"c:{message}", ns)
    if found is None:
        raise CamtError("the file is not a camt.053 or camt.054 statement")
    statements = [_statement(kind, element, ns) for element in found.findall(f"c:{report}", ns)]
    if not statements:
        raise CamtError("the file holds no statement")
    return statements


def _text(element, path: str, ns: dict) -> str:
    found = element.find(path, ns)
    return (found.text or "").strip() if found is not None else ""


def _statement(kind: str, element, ns: dict) -> Statement:
    statement_id = _text(element, "c:Id", ns)
    iban = _text(element, "c:Acct/c:Id/c:IBAN", ns).replace(" ", "").upper()
    if not statement_id or len(statement_id) > 35 or not iban or len(iban) > 34:
        raise CamtError("a statement has no id or no account IBAN")
    credits = []
    reversed_debits = 0
    for entry in element.findall("c:Ntry", ns):
        status = _text(entry, "c:Sts", ns) or _text(entry, "c:Sts/c:Cd", ns)
        if status != "BOOK":
            continue
        if _text(entry, "c:CdtDbtInd", ns) == "DBIT" and _is_reversal(entry, ns):
            reversed_debits += 1
        credits.extend(_credits(entry, ns))
    return Statement(
        kind=kind,
        statement_id=statement_id,
        iban=iban,
        credits=credits,
        reversed_debits=reversed_debits,
    )


def _amount(element, path: str, ns: dict) -> Money | None:
    found = element.find(path, ns)
    if found is None:
        return None
    try:
        amount = Money.parse(found.text or "", found.get("Ccy", ""))
    except MoneyError:
        raise CamtError("an entry has an amount that cannot be read") from None
    if amount.minor <= 0:
        raise CamtError("an entry has an amount that is not positive")
    return amount


def _booked_on(entry, ns: dict) -> dt.date:
    text = _text(entry, "c:BookgDt/c:Dt", ns) or _text(entry, "c:BookgDt/c:DtTm", ns)[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CamtError("an entry has no booking date") from None


def _credits(entry, ns: dict) -> list[CreditLine]:
    booked_on = _booked_on(entry, ns)
    entry_amount = _amount(entry, "c:Amt", ns)
    if entry_amount is None:
        raise CamtError("an entry has no amount")
    entry_direction = _text(entry, "c:CdtDbtInd", ns)
    entry_reference = _text(entry, "c:AcctSvcrRef", ns)
    reversal = _is_reversal(entry, ns)
    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    if not details:
        if entry_direction != "CRDT":
            return []
        return [_line(None, ns, entry_amount, booked_on, entry_reference, reversal)]
    lines = []
    for transaction in details:
        direction = _text(transaction, "c:CdtDbtInd", ns) or entry_direction
        if direction != "CRDT":
            continue
        amount = (
            _amount(transaction, "c:Amt", ns)
            or _amount(transaction, "c:AmtDtls/c:TxAmt/c:Amt", ns)
            or (entry_amount if len(details) == 1 else None)
        )
        if amount is None:
            raise CamtError("a batch entry's transaction has no amount")
        reference = _text(transaction, "c:Refs/c:AcctSvcrRef", ns) or (
            entry_reference if len(details) == 1 else ""
        )
        lines.append(_line(transaction, ns, amount, booked_on, reference, reversal))
    return lines


def _is_reversal(entry, ns: dict) -> bool:
    return _text(entry, "c:RvslInd", ns).lower() in ("true", "1")


def _line(
    transaction, ns: dict, amount: Money, booked_on: dt.date, reference: str, reversal: bool
) -> CreditLine:
    def read(path: str) -> str:
        return _text(transaction, path, ns) if transaction is not None else ""

    unstructured = []
    if transaction is not None:
        unstructured = [
            (found.text or "").strip() for found in transaction.findall("c:RmtInf/c:Ustrd", ns)
        ]
    end_to_end = read("c:Refs/c:EndToEndId")
    return CreditLine(
        amount=amount,
        booked_on=booked_on,
        servicer_reference=reference[:35],
        end_to_end_id="" if end_to_end == "NOTPROVIDED" else end_to_end[:35],
        creditor_reference=read("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")[:35],
        remittance=" ".join(part for part in unstructured if part)[:140],
        debtor_name=(read("c:RltdPties/c:Dbtr/c:Nm") or read("c:RltdPties/c:Dbtr/c:Pty/c:Nm"))[
            :140
        ],
        reversal=reversal,
    )
