"""Writing camt.053 and camt.054 files, in ISO 20022's .001.02 or .001.08 layout, as a bank
sends them: for the demo's statement, the sample files in ``samples/camt/`` and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


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


def _transaction(credit: Credit, version: str) -> str:
    refs = f"<EndToEndId>{escape(credit.end_to_end)}</EndToEndId>"
    if credit.servicer_reference:
        refs = f"<AcctSvcrRef>{escape(credit.servicer_reference)}</AcctSvcrRef>" + refs
    remittance = ""
    if credit.text:
        remittance += f"<Ustrd>{escape(credit.text)}</Ustrd>"
    if credit.reference:
        kind = "<CdtrRefTp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></CdtrRefTp>"
        remittance += (
            f"<Strd><CdtrRefInf>{kind}<Ref>{escape(credit.reference)}</Ref></CdtrRefInf></Strd>"
        )
    amount = f'<Amt Ccy="{credit.currency}">{credit.amount}</Amt>' if version == "08" else ""
    indicator = "DBIT" if credit.debit else "CRDT"
    direction = f"<CdtDbtInd>{indicator}</CdtDbtInd>" if version == "08" else ""
    party = "<Pty><Nm>A Payer</Nm></Pty>" if version == "08" else "<Nm>A Payer</Nm>"
    return (
        f"<TxDtls><Refs>{refs}</Refs>{amount}{direction}"
        f"<RltdPties><Dbtr>{party}</Dbtr></RltdPties>"
        + (f"<RmtInf>{remittance}</RmtInf>" if remittance else "")
        + "</TxDtls>"
    )


def _entry(credit: Credit, version: str) -> str:
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version == "08" else "<Sts>BOOK</Sts>"
    servicer = (
        f"<AcctSvcrRef>{escape(credit.servicer_reference)}</AcctSvcrRef>"
        if credit.servicer_reference
        else ""
    )
    return (
        f'<Ntry><Amt Ccy="{credit.currency}">{credit.amount}</Amt>'
        f"<CdtDbtInd>{'DBIT' if credit.debit else 'CRDT'}</CdtDbtInd>"
        + ("<RvslInd>true</RvslInd>" if credit.reversal else "")
        + f"{status}"
        f"<BookgDt><Dt>{credit.booked}</Dt></BookgDt><ValDt><Dt>{credit.booked}</Dt></ValDt>"
        f"{servicer}<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd>"
        f"</Fmly></Domn></BkTxCd><NtryDtls>{_transaction(credit, version)}</NtryDtls></Ntry>"
    )


def camt(
    kind: str,
    statement_id: str,
    credits: list[Credit],
    *,
    iban: str,
    version: str = "02",
    created: str = "2026-12-04T18:00:00",
) -> bytes:
    """A camt.053 (``kind`` "053") or camt.054 ("054") file of one account's ``credits``."""
    message, report = (
        ("BkToCstmrStmt", "Stmt") if kind == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    )
    balance = (
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-04</Dt></Dt></Bal>"
        if kind == "053"
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}">'
        f"<{message}><GrpHdr><MsgId>MSG-{escape(statement_id)}</MsgId>"
        f"<CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<{report}><Id>{escape(statement_id)}</Id><CreDtTm>{created}</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id></Acct>{balance}"
        + "".join(_entry(credit, version) for credit in credits)
        + f"</{report}></{message}></Document>\n"
    ).encode()
