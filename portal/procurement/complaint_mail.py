"""Telling a complaining organisation's representatives where their complaint stands, by
e-mail: filed (the fee to pay), registered, upheld, rejected or lapsed.

Sent by a task enqueued once the change has committed, so a refused or rolled-back step
mails nobody; each representative gets one message in their own language.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from pyramid.registry import Registry

from portal.i18n import _, document_localizer
from portal.mail import mailer, message
from portal.procurement.bidder_mail import local_text
from portal.procurement.models import Complaint
from portal.tasks import enqueue_after_commit, task, task_dbsession

log = logging.getLogger(__name__)

FILED = "filed"
REGISTERED = "registered"
UPHELD = "upheld"
REJECTED = "rejected"
LAPSED = "lapsed"
#: lapsed because its fee was paid too late (after the standstill, or once the award was gone)
PAID_LATE = "paid_late"


def _texts(what: str, mapping: dict):
    """The subject and body of the message about ``what``, for one representative."""
    if what == FILED:
        subject = _("Complaint on tender ${reference}: pay the fee to register it", mapping=mapping)
        return subject, _(
            "Dear ${name},\n\nyour organisation ${organisation} filed a complaint against the "
            "award of tender ${reference} (${title}). It is registered once its fee of ${fee} "
            "is paid, by the end of the standstill period, ${until}; unpaid then, it lapses. "
            "Pay it on the complaint's page or with your organisation's bills:\n${url}",
            mapping=mapping,
        )
    if what == REGISTERED:
        return _("Complaint on tender ${reference} registered", mapping=mapping), _(
            "Dear ${name},\n\nthe fee of your organisation's complaint against the award of "
            "tender ${reference} (${title}) is paid and the complaint is registered. A reviewer "
            "will decide it; we will write to you then.\n${url}",
            mapping=mapping,
        )
    if what == UPHELD:
        return _("Complaint on tender ${reference} upheld", mapping=mapping), _(
            "Dear ${name},\n\nthe reviewer upheld your organisation's complaint against the "
            "award of tender ${reference} (${title}). The award is withdrawn and the tender "
            "goes back to evaluation. The fee is refunded.\nThe reviewer's reason:\n${reason}"
            "\n\n${url}",
            mapping=mapping,
        )
    if what == REJECTED:
        return _("Complaint on tender ${reference} rejected", mapping=mapping), _(
            "Dear ${name},\n\nthe reviewer rejected your organisation's complaint against the "
            "award of tender ${reference} (${title}). The fee is not refunded.\nThe reviewer's "
            "reason:\n${reason}\n\n${url}",
            mapping=mapping,
        )
    if what == PAID_LATE:
        return _("Complaint on tender ${reference} lapsed", mapping=mapping), _(
            "Dear ${name},\n\nthe fee of your organisation's complaint against the award of "
            "tender ${reference} (${title}) was paid after the complaint could no longer be "
            "registered (the standstill period had ended, or the award was withdrawn or the "
            "tender cancelled), so the complaint lapsed. The fee is refunded.\n${url}",
            mapping=mapping,
        )
    return _("Complaint on tender ${reference} lapsed", mapping=mapping), _(
        "Dear ${name},\n\nthe fee of your organisation's complaint against the award of tender "
        "${reference} (${title}) was not paid by the end of the standstill period, so the "
        "complaint lapsed and its bill is cancelled.\n${url}",
        mapping=mapping,
    )


@task(retries=5, retry_delay=60)
def mail_complaint_task(registry: Registry, what: str, complaint_id: int) -> None:
    settings = registry.settings
    sender = settings.get("mail.default_sender", "no-reply@localhost")
    base = settings["portal.base_url"]
    timezone = ZoneInfo(settings.get("portal.timezone", "UTC"))
    with task_dbsession(registry) as dbsession:
        complaint = dbsession.get_one(Complaint, complaint_id)
        tender = complaint.tender
        bill = complaint.fee_bill
        sent = 0
        for person in complaint.organisation.representatives:
            if not person.email:
                continue
            mapping = {
                "name": person.display_name,
                "reference": tender.reference,
                "title": tender.title,
                "organisation": complaint.organisation.name,
                "fee": bill.total.format(person.locale or "en") if bill is not None else "",
                "until": local_text(complaint.award.standstill_until, timezone),
                "reason": complaint.decision_reason or "",
                "url": f"{base}/complaints/{complaint.public_id}",
            }
            localizer = document_localizer(person.locale)
            subject, body = _texts(what, mapping)
            mailer(registry).send_immediately(
                message(
                    sender, person.email, localizer.translate(subject), localizer.translate(body)
                )
            )
            sent += 1
    log.info("complaint %s %s: %d representatives e-mailed", complaint_id, what, sent)


def mail_after_commit(dbsession, what: str, complaint: Complaint) -> None:
    dbsession.flush()
    enqueue_after_commit(dbsession, mail_complaint_task, what, complaint.id)
