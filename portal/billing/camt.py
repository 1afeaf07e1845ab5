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
from dataclasses import dataclass, field

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
    #: the account the money came from (``RltdPties/DbtrAcct``), where a refund goes back to
    debtor_iban: str = ""

    def bank_key(self, iban: str) -> str | None:
        """What names this credit by the bank's own reference (AcctSvcrRef), which the bank
        keeps from the intraday notification (camt.054) to the day's statement (camt.053);
        None when the bank gave none."""
        if not self.servicer_reference:
            return None
        return _digest(iban, "ref", self.servicer_reference)

    def content_key(self, iban: str, occurrence: int) -> str:
        """What names this credit by what it says, for when a file lacks the bank's
        reference: the payer's end-to-end id (often "NOTPROVIDED"), amount, booking date,
        the payer's account and name and the remittance, and ``occurrence``, its number
        among the credits of its file that say exactly the same (two payers' identical
        fees differ by their accounts; one payer's two identical transfers in one file by
        their numbers)."""
        return _digest(
            iban,
            "content",
            self.end_to_end_id,
            str(self.amount.minor),
            self.amount.currency,
            self.booked_on.isoformat(),
            self.debtor_iban,
            self.debtor_name,
            self.creditor_reference,
            self.remittance,
            str(occurrence),
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class EntryMismatch(CamtError):
    """A batch entry whose transactions do not add up to the entry's amount: the file
    contradicts itself, so none of it is trusted."""

    def __init__(self, entry: str, entry_amount: Money, transactions: Money):
        super().__init__(f"entry {entry}: transactions {transactions} <> {entry_amount}")
        self.entry = entry
        self.entry_amount = entry_amount
        self.transactions = transactions


class DuplicateReference(CamtError):
    """Two credits of one account named by the same bank reference (AcctSvcrRef): the file
    contradicts itself, so none of it is trusted."""

    def __init__(self, reference: str):
        super().__init__(f"two credits carry the bank reference {reference}")
        self.reference = reference


@dataclass(frozen=True)
class Debit:
    """Money that left the account: the portal looks for the transfers it asked the bank to
    make (refunds, by their end-to-end id)."""

    amount: Money
    booked_on: dt.date
    end_to_end_id: str


@dataclass(frozen=True)
class Statement:
    kind: str  # "camt.053" or "camt.054"
    statement_id: str
    iban: str
    credits: list[CreditLine]
    #: booked debit entries reversing an earlier credit (``RvslInd``): the bank took back
    #: money that may have been posted to a bill, which a clerk must look at
    reversed_debits: int = 0
    #: the other booked debits, one per transaction
    debits: list[Debit] = field(default_factory=list)


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
    _each_reference_once(statements)
    return statements


def _each_reference_once(statements: list[Statement]) -> None:
    """The bank names each credit of a statement by its own reference, once: a statement
    naming two credits by one reference contradicts itself. (A later statement of the same
    file may report a credit again, as a day's statement reports the intraday notification's:
    it is then seen, see :mod:`portal.billing.statements`.)"""
    for statement in statements:
        seen: set[str] = set()
        for credit in statement.credits:
            if not credit.servicer_reference:
                continue
            if credit.servicer_reference in seen:
                raise DuplicateReference(credit.servicer_reference)
            seen.add(credit.servicer_reference)


def _text(element, path: str, ns: dict) -> str:
    found = element.find(path, ns)
    return (found.text or "").strip() if found is not None else ""


def _statement(kind: str, element, ns: dict) -> Statement:
    statement_id = _text(element, "c:Id", ns)
    iban = _text(element, "c:Acct/c:Id/c:IBAN", ns).replace(" ", "").upper()
    if not statement_id or len(statement_id) > 35 or not iban or len(iban) > 34:
        raise CamtError("a statement has no id or no account IBAN")
    credits: list[CreditLine] = []
    debits: list[Debit] = []
    reversed_debits = 0
    for entry in element.findall("c:Ntry", ns):
        status = _text(entry, "c:Sts", ns) or _text(entry, "c:Sts/c:Cd", ns)
        if status != "BOOK":
            continue
        if _text(entry, "c:CdtDbtInd", ns) == "DBIT" and _is_reversal(entry, ns):
            reversed_debits += 1
        entry_credits, entry_debits = _transactions(entry, ns)
        credits.extend(entry_credits)
        debits.extend(entry_debits)
    return Statement(
        kind=kind,
        statement_id=statement_id,
        iban=iban,
        credits=credits,
        reversed_debits=reversed_debits,
        debits=debits,
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


def _transactions(entry, ns: dict) -> tuple[list[CreditLine], list[Debit]]:
    """The credits and (unless the entry is a reversal) the debits of one booked entry."""
    booked_on = _booked_on(entry, ns)
    entry_amount = _amount(entry, "c:Amt", ns)
    if entry_amount is None:
        raise CamtError("an entry has no amount")
    entry_direction = _text(entry, "c:CdtDbtInd", ns)
    entry_reference = _text(entry, "c:AcctSvcrRef", ns)
    reversal = _is_reversal(entry, ns)
    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    debits: list[Debit] = []
    if not details:
        if entry_direction != "CRDT":
            return [], []
        return [_line(None, ns, entry_amount, booked_on, entry_reference, reversal)], []
    lines = []
    # what the transactions add up to, in the entry's direction (a transaction the other way,
    # a charge taken from a batch of credits say, counts against it); None once one has no
    # amount (a debit's may lack it: it is then not looked at)
    total: int | None = 0
    for transaction in details:
        direction = _text(transaction, "c:CdtDbtInd", ns) or entry_direction
        amount = (
            _amount(transaction, "c:Amt", ns)
            or _amount(transaction, "c:AmtDtls/c:TxAmt/c:Amt", ns)
            or (entry_amount if len(details) == 1 else None)
        )
        if amount is None:
            if direction == "CRDT":
                raise CamtError("a batch entry's transaction has no amount")
            total = None
            continue
        if amount.currency != entry_amount.currency:
            raise EntryMismatch(entry_reference, entry_amount, amount)
        if total is not None:
            total += amount.minor if direction == entry_direction else -amount.minor
        if direction != "CRDT":
            if direction == "DBIT" and not reversal:
                end_to_end = _text(transaction, "c:Refs/c:EndToEndId", ns)[:35]
                debits.append(Debit(amount, booked_on, end_to_end))
            continue
        reference = _text(transaction, "c:Refs/c:AcctSvcrRef", ns) or (
            entry_reference if len(details) == 1 else ""
        )
        lines.append(_line(transaction, ns, amount, booked_on, reference, reversal))
    if total is not None and total != entry_amount.minor:
        raise EntryMismatch(entry_reference, entry_amount, Money(total, entry_amount.currency))
    return lines, debits


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
        debtor_iban=read("c:RltdPties/c:DbtrAcct/c:Id/c:IBAN").replace(" ", "").upper()[:34],
    )
