"""Receipts and credit notes parsed back from their PDF: the text a person reads (through
poppler's ``pdftotext -layout``) and the JSON data attached to the document."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

AMOUNT = r"(?P<amount>-?€[\d,]+\.\d\d)\s*$"
#: a bill's row: its number first, its amount at the end of the line
BILL_ROW = re.compile(r"^\s*(?P<number>[A-Z]+(?:-\d+)+) · .*?\s{2,}" + AMOUNT)
#: any other line of the table with an amount: one of the bill's items
ITEM_ROW = re.compile(r"^\s*\S.*?\s{2,}" + AMOUNT)
TOTAL_ROW = re.compile(r"^\s*(?P<label>Total (?:paid|refunded))\s+" + AMOUNT)
TABLE_HEAD = re.compile(r"^\s*Bill( and item)?\s+Creditor\b.*\s(Paid|Refunded)\s*$")


def minor(amount: str) -> int:
    """``"€1,206.30"`` -> 120630."""
    return int(Decimal(amount.replace("€", "").replace(",", "")) * 100)


@dataclass(frozen=True)
class PrintedBill:
    number: str
    amount: str
    items: list[str]


@dataclass(frozen=True)
class PrintedDocument:
    text: str
    data: dict

    def _table(self) -> list[str]:
        lines = self.text.splitlines()
        start = next(i for i, line in enumerate(lines) if TABLE_HEAD.match(line))
        end = next(i for i, line in enumerate(lines) if TOTAL_ROW.match(line))
        return lines[start + 1 : end]

    @property
    def rows(self) -> list[PrintedBill]:
        """The bills printed, in order, each with the amounts of the items under it."""
        rows: list[PrintedBill] = []
        for line in self._table():
            if match := BILL_ROW.match(line):
                rows.append(PrintedBill(match["number"], match["amount"], []))
            elif match := ITEM_ROW.match(line):
                rows[-1].items.append(match["amount"])
        return rows

    @property
    def bills(self) -> dict[str, str]:
        """Bill number -> the amount printed on its row."""
        return {row.number: row.amount for row in self.rows}

    @property
    def total(self) -> tuple[str, str]:
        (match,) = [m for line in self.text.splitlines() if (m := TOTAL_ROW.match(line))]
        return match["label"], match["amount"]


def printed_document(pdf: bytes, folder: Path) -> PrintedDocument:
    path = folder / "document.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    attachments = folder / "attachments"
    attachments.mkdir(exist_ok=True)
    subprocess.run(["pdfdetach", "-saveall", "-o", str(attachments), str(path)], check=True)
    data = json.loads((attachments / "receipt.json").read_text())
    return PrintedDocument(text, data)
