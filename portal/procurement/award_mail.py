"""Telling the bidders of a tender that it was awarded, by e-mail: the winner that their bid
won, the others to whom it went, each with the reasons and the end of the standstill (until
which a complaint may be filed).

Sent by a task enqueued once the award has committed, so a refused award mails nobody; each
representative of a bidding organisation gets one message in their own language.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from pyramid.registry import Registry

from portal.i18n import _, document_localizer
from portal.mail import mailer, message
from portal.procurement.bidder_mail import local_text
from portal.procurement.models import Award
from portal.procurement.prices import valid_bids
from portal.tasks import enqueue_after_commit, task, task_dbsession

log = logging.getLogger(__name__)


def _texts(won: bool, mapping: dict):
    if won:
        return _("Tender ${reference}: your bid is awarded", mapping=mapping), _(
            "Dear ${name},\n\nthe buyer awarded tender ${reference} (${title}) to the bid of "
            "your organisation ${organisation}, at ${value}. The reasons given:\n${reasons}\n\n"
            "The standstill period runs until ${standstill}; the contract follows it unless a "
            "complaint is upheld.\n${url}",
            mapping=mapping,
        )
    return _("Tender ${reference} was awarded", mapping=mapping), _(
        "Dear ${name},\n\nthe buyer awarded tender ${reference} (${title}), on which your "
        "organisation ${organisation} bid, to ${winner}, at ${value}. The reasons "
        "given:\n${reasons}\n\nUntil ${standstill} your organisation may file a complaint "
        "against the award.\n${url}",
        mapping=mapping,
    )


@task(retries=5, retry_delay=60)
def mail_award_task(registry: Registry, award_id: int) -> None:
    settings = registry.settings
    sender = settings.get("mail.default_sender", "no-reply@localhost")
    base = settings["portal.base_url"]
    timezone = ZoneInfo(settings.get("portal.timezone", "UTC"))
    with task_dbsession(registry) as dbsession:
        award = dbsession.get_one(Award, award_id)
        tender = award.tender
        bids = valid_bids(dbsession, tender)
        for valid in bids:
            organisation = valid.bid.organisation
            for person in organisation.representatives:
                if not person.email:
                    continue
                mapping = {
                    "name": person.display_name,
                    "reference": tender.reference,
                    "title": tender.title,
                    "organisation": organisation.name,
                    "winner": award.bid.organisation.name,
                    "value": award.value.format(person.locale or "en"),
                    "reasons": award.reasons,
                    "standstill": local_text(award.standstill_until, timezone),
                    "url": f"{base}/tenders/{tender.reference}",
                }
                localizer = document_localizer(person.locale)
                subject, body = _texts(valid.bid.id == award.bid_id, mapping)
                mailer(registry).send_immediately(
                    message(
                        sender,
                        person.email,
                        localizer.translate(subject),
                        localizer.translate(body),
                    )
                )
    log.info("award %s: %d bids' representatives e-mailed", award_id, len(bids))


def mail_award_after_commit(dbsession, award: Award) -> None:
    enqueue_after_commit(dbsession, mail_award_task, award.id)
