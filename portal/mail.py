"""Outgoing mail through pyramid_mailer, chosen by settings.

``mail.directory`` writes each message as a file (development: ``var/mail/``); otherwise
``mail.host``/``mail.port`` (and ``mail.username``/``mail.password``/``mail.tls``) name the
SMTP server. Mail is only ever sent after the transaction that caused it has committed.
"""

from __future__ import annotations

import re
import smtplib
from pathlib import Path

from pyramid.registry import Registry
from pyramid_mailer.mailer import DebugMailer, Mailer
from pyramid_mailer.message import Attachment, Message
from repoze.sendmail.mailer import SMTPMailer

from portal.settings import setting_bool


class CRLFSMTP(smtplib.SMTP):
    """repoze.sendmail hands smtplib the message as bytes with bare LF line ends, and smtplib
    sends bytes as they are (it mends only text). SMTP wants CRLF (RFC 5321), and servers
    hardened against SMTP smuggling refuse bare LFs, so every receipt would bounce there."""

    def sendmail(self, from_addr, to_addrs, msg, *args, **kwargs):
        if isinstance(msg, bytes):
            msg = re.sub(rb"\r?\n", b"\r\n", msg)
        return super().sendmail(from_addr, to_addrs, msg, *args, **kwargs)


class CRLFMailer(SMTPMailer):
    smtp = CRLFSMTP


def mailer_from_settings(settings):
    directory = settings.get("mail.directory")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        return DebugMailer(directory)
    tls = setting_bool(settings, "mail.tls")
    return Mailer(
        smtp_mailer=CRLFMailer(
            hostname=settings.get("mail.host", "localhost"),
            port=int(settings.get("mail.port", 25)),
            username=settings.get("mail.username") or None,
            password=settings.get("mail.password") or None,
            no_tls=not tls,
            force_tls=tls,
        ),
        default_sender=settings.get("mail.default_sender", "no-reply@localhost"),
    )


def message(
    sender: str, to: str, subject: str, body: str, attachments: list[tuple[str, str, bytes]] = ()
) -> Message:
    return Message(
        subject=subject,
        sender=sender,
        recipients=[to],
        body=body,
        attachments=[
            Attachment(name, content_type, data) for name, content_type, data in attachments
        ],
    )


def mailer(registry: Registry) -> Mailer | DebugMailer:
    """The application's mailer."""
    return registry["mailer"]


def includeme(config) -> None:
    config.registry["mailer"] = mailer_from_settings(config.get_settings())
