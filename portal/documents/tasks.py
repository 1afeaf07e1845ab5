"""Documents' background work: render, sign and store after commit; then e-mail the owner."""

from __future__ import annotations

import logging

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import select

from portal.clock import clock
from portal.documents.downloads import document_bytes
from portal.documents.kinds import document_issuer
from portal.documents.models import Document
from portal.i18n import _, document_localizer
from portal.identity.models import User
from portal.mail import mailer, message
from portal.tasks import enqueue, enqueue_after_commit, periodic_task, task, task_dbsession

log = logging.getLogger(__name__)


@task(retries=5, retry_delay=30)
def render_document_task(registry: Registry, document_id: int) -> None:
    with task_dbsession(registry) as dbsession:
        document = dbsession.get(Document, document_id)
        document_issuer(registry).render(dbsession, document)
    enqueue(registry, email_document_task, document_id)


@task(retries=5, retry_delay=60)
def email_document_task(registry: Registry, document_id: int) -> None:
    settings = registry.settings
    issuer = document_issuer(registry)
    with task_dbsession(registry) as dbsession:
        document = dbsession.get(Document, document_id)
        user = document.owner
        text = issuer.kind(document).mail
        if (
            text is None
            or document.emailed_at is not None
            or document.sha256 is None
            # an organisation's document: its representatives find it on its payments
            or user is None
            or not user.email
        ):
            return
        body = _(
            text,
            mapping={
                "name": user.display_name,
                "number": document.number,
                "url": issuer.verify_url(document),
            },
        )
        mail = message(
            settings.get("mail.default_sender", "no-reply@localhost"),
            user.email,
            f"{issuer.title(document)} {document.number}",
            document_localizer(document.locale).translate(body),
            [(f"{document.number}.pdf", "application/pdf", document_bytes(registry, document))],
        )
        mailer(registry).send_immediately(mail)
        document.emailed_at = clock(registry).now()
    log.info("document %s e-mailed", document_id)


def render_after_commit(dbsession, document: Document) -> None:
    enqueue_after_commit(dbsession, render_document_task, document.id)


@periodic_task(crontab(minute="*/5"))
def render_pending_documents(registry: Registry) -> None:
    """Catch up on documents whose rendering or mail did not happen (a crash, a mail outage)."""
    issuer = document_issuer(registry)
    mailed = [name for name, kind in issuer.kinds.items() if kind.mail is not None]
    with task_dbsession(registry) as dbsession:
        pending = list(
            dbsession.scalars(
                select(Document.id)
                .outerjoin(User, Document.owner_user_id == User.id)
                .where(
                    Document.sha256.is_(None)
                    | (
                        Document.emailed_at.is_(None)
                        & (User.email != "")
                        & Document.kind.in_(mailed)
                    )
                )
            )
        )
    for document_id in pending:
        enqueue(registry, render_document_task, document_id)
