"""Telling bidders what happened to a tender they bid on (amended, cancelled), by e-mail.

Sent by a task enqueued once the change has committed, so a refused or rolled-back change
mails nobody; each representative of the bidding organisation gets one message in their own
language.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from pyramid.registry import Registry
from sqlalchemy import select

from portal.i18n import _, document_localizer
from portal.mail import mailer, message
from portal.procurement.models import Bid, Tender
from portal.tasks import enqueue_after_commit, task, task_dbsession

log = logging.getLogger(__name__)

AMENDED = "amended"
CANCELLED = "cancelled"


def _texts(what: str, mapping: dict):
    """The subject and body of the message about ``what``, for one representative."""
    if what == AMENDED:
        return _("Tender ${reference} was amended: confirm your bid", mapping=mapping), _(
            "Dear ${name},\n\nthe buyer amended tender ${reference} (${title}) after your "
            "organisation ${organisation} submitted its bid. What changed is listed on the "
            "tender's page:\n${url}\n\nConfirm or change the bid before the deadline, "
            "${deadline}.",
            mapping=mapping,
        )
    return _("Tender ${reference} was cancelled", mapping=mapping), _(
        "Dear ${name},\n\nthe buyer cancelled tender ${reference} (${title}) on which your "
        "organisation ${organisation} prepared a bid. The reason given:\n${reason}\n\n"
        "A bid security your organisation lodged is given back, and bills still unpaid are "
        "cancelled.\n${url}",
        mapping=mapping,
    )


def local_text(instant: dt.datetime | None, timezone: ZoneInfo) -> str:
    """``instant`` as a local date and time with its zone, the same in every language."""
    if instant is None:
        return ""
    return f"{instant.astimezone(timezone):%Y-%m-%d %H:%M} ({timezone.key})"


@task(retries=5, retry_delay=60)
def mail_bidders_task(registry: Registry, what: str, bid_ids: list[int], reason: str) -> None:
    settings = registry.settings
    sender = settings.get("mail.default_sender", "no-reply@localhost")
    base = settings["portal.base_url"]
    timezone = ZoneInfo(settings.get("portal.timezone", "UTC"))
    with task_dbsession(registry) as dbsession:
        bids = dbsession.scalars(select(Bid).where(Bid.id.in_(bid_ids))).all()
        for bid in bids:
            tender: Tender = bid.tender
            deadline = local_text(tender.bids_until, timezone)
            for person in bid.organisation.representatives:
                if not person.email:
                    continue
                mapping = {
                    "name": person.display_name,
                    "reference": tender.reference,
                    "title": tender.title,
                    "organisation": bid.organisation.name,
                    "url": f"{base}/tenders/{tender.reference}",
                    "deadline": deadline,
                    "reason": reason,
                }
                localizer = document_localizer(person.locale)
                subject, body = _texts(what, mapping)
                mailer(registry).send_immediately(
                    message(
                        sender,
                        person.email,
                        localizer.translate(subject),
                        localizer.translate(body),
                    )
                )
    log.info("%s: %d bids' representatives e-mailed", what, len(bid_ids))


def mail_bidders_after_commit(dbsession, what: str, bids: list[Bid], reason: str = "") -> None:
    if bids:
        enqueue_after_commit(dbsession, mail_bidders_task, what, [b.id for b in bids], reason)
