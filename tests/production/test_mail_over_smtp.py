"""Receipts go out over real SMTP (make prod-local's stand-in, aiosmtpd, is as strict as
servers hardened against SMTP smuggling): lines end in CRLF, and the PDF arrives intact."""

from __future__ import annotations

import email

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from portal.mail import mailer_from_settings, message
from tests.production.conftest import free_port

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64


class Kept(Sink):
    def __init__(self):
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def smtp_server():
    handler = Kept()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_a_receipt_is_mailed_through_a_strict_smtp_server(smtp_server):
    controller, handler = smtp_server
    mailer = mailer_from_settings({"mail.host": "127.0.0.1", "mail.port": str(controller.port)})
    body = "Dear Ana Novak,\n\nyour receipt R-2026-000001 is attached.\n"
    mail = message(
        "payments@example.gov",
        "ana@example.org",
        "Receipt R-2026-000001",
        body,
        [("R-2026-000001.pdf", "application/pdf", PDF)],
    )

    mailer.send_immediately(mail)

    (raw,) = handler.received
    assert b"\n" not in raw.replace(b"\r\n", b"")
    received = email.message_from_bytes(raw)
    attachment = next(part for part in received.walk() if part.get_filename())
    assert attachment.get_payload(decode=True) == PDF
    assert "your receipt R-2026-000001" in next(
        part.get_payload(decode=True).decode()
        for part in received.walk()
        if part.get_content_type() == "text/plain"
    )
