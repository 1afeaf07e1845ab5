"""Receipts and their e-mails in the payer's language: a Slovenian one holds no English label,
and a Chinese one embeds a Chinese font, subset to the characters it uses, and stays a signed
PDF/A-3b whose every font is embedded."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

from babel.messages.extract import extract_from_file
from sqlalchemy import select

from portal.billing import issue_bill
from portal.catalogue.interfaces import BillLineInput
from portal.i18n import _, document_localizer
from portal.money import Money
from portal.receipts.issuing import ReceiptKind
from portal.receipts.models import Receipt
from portal.templating import TEMPLATES
from tests import factories
from tests.functional.receipts.test_receipts import validate
from tests.pdfa import pdfa3b_attachment

#: the most a one-page receipt may weigh with a Chinese font in it: the font subset to the
#: characters used (the whole of Noto Sans CJK SC, regular and bold, is over 30 MB)
MOST_BYTES = 400_000


def receipt_messages() -> list[str]:
    """Every message a receipt or its e-mail can print, in English: the template's and the
    kind's."""
    template = TEMPLATES / "documents" / "receipt.jinja2"
    found = extract_from_file("jinja2", str(template), options={"extensions": "jinja2.ext.i18n"})
    kind = ReceiptKind
    return [message for _, message, _, _ in found] + [kind.title, kind.total_label, kind.mail]


def english_left(text: str, messages: list[str]) -> list[str]:
    """The messages of which ``text`` still holds words in English: each message's literal
    parts (between its placeholders) of two or more letters, as whole words, where the
    translation differs from them."""
    flat = " ".join(text.split())
    left = []
    for message in messages:
        for part in re.split(r"%\(\w+\)s|\$\{\w+\}", message):
            part = " ".join(part.split()).strip(" .,:")
            if len(part) > 1 and re.search(rf"\b{re.escape(part)}\b", flat):
                left.append(part)
    return left


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def mails_to(keys_dir: Path, address: str) -> list:
    mails = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (keys_dir / "mail").glob("*")
    ]
    return [mail for mail in mails if mail["To"] == address]


def pay_bills_of(payments, dbsession, payer, bills: list[tuple[str, str, list]]) -> Receipt:
    """``payer`` pays bills of (service name, description, [(item, minor units)]) in one
    payment; the receipt, rendered and e-mailed."""
    issued = []
    for number, (service_name, description, items) in enumerate(bills, start=1):
        service = factories.service(dbsession, f"service-{number}")
        service.name = service_name
        issued.append(
            issue_bill(
                dbsession,
                service=service,
                number=f"L-2026-{number:04d}",
                description=description,
                due_date=dt.date(2026, 12, 31),
                lines=[BillLineInput(item, Money(minor, "EUR")) for item, minor in items],
                payer_user=payer,
            )
        )
    dbsession.commit()
    payment = payments.settled_for(issued, payer)
    dbsession.expire_all()
    return dbsession.scalars(select(Receipt).where(Receipt.payment_id == payment.id)).one()


def test_a_slovenian_receipt_and_its_mail_hold_no_english(payments, dbsession, keys_dir):
    payer = factories.user(dbsession, "citizen-ben")
    payer.locale, payer.email = "sl", "ben.slovenian-receipt@example.org"
    receipt = pay_bills_of(
        payments,
        dbsession,
        payer,
        [
            ("Voda", "Voda, oktober 2026", [("Voda, 9 m³", 18_00), ("Kanalščina", 3_00)]),
            ("Davek na nepremičnine", "Davek 2026, 2. obrok", [("Davek 2026, 2. obrok", 206_30)]),
        ],
    )
    assert receipt.locale == "sl"
    text = pdf_text(receipt.pdf)
    assert english_left(text, receipt_messages()) == []
    translate = document_localizer("sl").translate
    for label in (_("Payer"), _("Payment method"), _("Bill and item"), _("Verification code")):
        assert translate(label) in text
    assert "Potrdilo o plačilu" in text and "Skupaj plačano" in text
    assert re.search(r"227,30\s€", text) and re.search(r"206,30\s€", text)
    issued_on = receipt.issued_at.astimezone(dt.UTC)
    assert str(issued_on.year) in text and not re.search(r"\b[AP]M\b", text)

    (mail,) = mails_to(keys_dir, "ben.slovenian-receipt@example.org")
    body = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == f"Potrdilo o plačilu {receipt.number}"
    assert english_left(f"{mail['Subject']}\n{body}", receipt_messages()) == []
    assert "v prilogi je vaše potrdilo o plačilu" in body


def test_a_chinese_receipt_embeds_a_chinese_font_and_stays_a_signed_pdfa(
    payments, dbsession, keys_dir, tmp_path
):
    payer = factories.user(dbsession, "citizen-ben")
    payer.given_name, payer.family_name, payer.locale = "王小明", "", "zh_Hans"
    receipt = pay_bills_of(
        payments,
        dbsession,
        payer,
        [
            ("水费", "2026年10月水费", [("用水 9 立方米", 18_00), ("污水处理费", 3_00)]),
            ("房产税", "2026年房产税，第二期", [("2026年房产税，第二期", 206_30)]),
        ],
    )
    assert receipt.locale == "zh_Hans"
    status = validate(receipt.pdf, keys_dir / "signing.crt")
    assert status.intact and status.valid and status.bottom_line

    path = tmp_path / "receipt.pdf"
    path.write_bytes(receipt.pdf)
    data = json.loads(pdfa3b_attachment(path, "receipt.json"))
    # the receipt checker's rules, on the attached data: the items add up to their bill's
    # line, the bills to the total
    for bill in data["bills"]:
        assert sum(item["amount_minor"] for item in bill["lines"]) == bill["amount_minor"]
    assert sum(bill["amount_minor"] for bill in data["bills"]) == data["total_minor"] == 227_30
    assert data["payer"] == "王小明"

    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)  # embedded
    assert all(line.split()[-4] == "yes" for line in fonts)  # subset
    assert any("Noto-Sans-CJK-SC" in line for line in fonts)
    assert len(receipt.pdf) < MOST_BYTES

    text = pdf_text(receipt.pdf)
    for chinese in (
        "王小明",
        "2026年10月水费",
        "用水 9 立方米",
        "污水处理费",
        "2026年房产税，第二期",
    ):
        assert chinese in text
    assert Money(227_30, "EUR").format("zh_Hans") in text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)  # the issue date, as Chinese writes it
