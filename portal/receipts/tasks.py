"""Receipts' background work: render, sign and store after commit; then e-mail the payer."""

from __future__ import annotations

import logging

from huey import crontab
from sqlalchemy import select

from portal.i18n import _, document_localizer
from portal.identity.models import User
from portal.mail import message
from portal.receipts.issuing import document_title
from portal.receipts.models import Receipt
from portal.tasks import enqueue_after_commit, huey, registry, task_dbsession

log = logging.getLogger(__name__)

RECEIPT_MAIL = _(
    "Dear ${name},\n\nattached is your receipt ${number}.\nAnyone can check it at ${url}\n"
)
CREDIT_NOTE_MAIL = _(
    "Dear ${name},\n\nattached is your credit note ${number}.\nAnyone can check it at ${url}\n"
)


@huey.task(retries=5, retry_delay=30)
def render_receipt_task(receipt_id: int) -> None:
    with task_dbsession() as dbsession:
        receipt = dbsession.get(Receipt, receipt_id)
        registry()["receipt_issuer"].render(dbsession, receipt)
    email_receipt_task(receipt_id)


@huey.task(retries=5, retry_delay=60)
def email_receipt_task(receipt_id: int) -> None:
    settings = registry().settings
    with task_dbsession() as dbsession:
        receipt = dbsession.get(Receipt, receipt_id)
        user = receipt.payment.payer_user
        if receipt.emailed_at is not None or receipt.pdf is None or not user.email:
            return
        title = document_title(receipt)
        text = RECEIPT_MAIL if receipt.kind == "receipt" else CREDIT_NOTE_MAIL
        body = _(
            text,
            mapping={
                "name": user.display_name,
                "number": receipt.number,
                "url": registry()["receipt_issuer"].verify_url(receipt),
            },
        )
        mail = message(
            settings.get("mail.default_sender", "no-reply@localhost"),
            user.email,
            f"{title} {receipt.number}",
            document_localizer(receipt.locale).translate(body),
            [(f"{receipt.number}.pdf", "application/pdf", receipt.pdf)],
        )
        registry()["mailer"].send_immediately(mail)
        receipt.emailed_at = registry()["clock"].now()
    log.info("receipt %s e-mailed", receipt_id)


def render_after_commit(dbsession, receipt: Receipt) -> None:
    enqueue_after_commit(dbsession, render_receipt_task, receipt.id)


@huey.periodic_task(crontab(minute="*/5"))
def render_pending_receipts() -> None:
    """Catch up on receipts whose rendering or mail did not happen (a crash, a mail outage)."""
    with task_dbsession() as dbsession:
        pending = list(
            dbsession.scalars(
                select(Receipt.id)
                .join(User, Receipt.payer_user_id == User.id)
                .where(Receipt.pdf.is_(None) | (Receipt.emailed_at.is_(None) & (User.email != "")))
            )
        )
    for receipt_id in pending:
        render_receipt_task(receipt_id)
