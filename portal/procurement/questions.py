"""Bidders' questions about a tender and the buyer's answers.

A representative asks for one of their organisations while the questions period is open (by
the request's clock, whatever the stored status says); the buyer answers, and the answer is
published at once. Who asked is kept so that the asker can find their own question, and is
never shown to anyone else: an answered question is public, its asker is not (a buyer who
knew who asked could favour or disfavour them, and rivals would learn who is bidding).
"""

from __future__ import annotations

import datetime as dt
import logging

from pyramid.registry import Registry
from sqlalchemy import select

from portal.i18n import _, document_localizer
from portal.identity.models import User
from portal.mail import mailer, message
from portal.procurement import events, state
from portal.procurement.models import Question, Tender
from portal.refusals import CONFLICT, INVALID, NOT_FOUND, FieldError, Refusal
from portal.tasks import enqueue_after_commit, task, task_dbsession

log = logging.getLogger(__name__)

#: the longest question or answer, in characters
MAX_TEXT = 4000


def _text(field: str, value) -> str:
    """The text typed in ``field``: required, at most :data:`MAX_TEXT` characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Refusal(
            INVALID,
            _("Write the text; it cannot be empty."),
            errors=[FieldError(field, _("Write the text; it cannot be empty."))],
        )
    if len(text) > MAX_TEXT:
        raise Refusal(
            INVALID,
            _("Keep the text to ${limit} characters.", mapping={"limit": MAX_TEXT}),
            errors=[
                FieldError(
                    field, _("Keep the text to ${limit} characters.", mapping={"limit": MAX_TEXT})
                )
            ],
        )
    return text


def ask(dbsession, tender: Tender, *, asker, organisation, text, now: dt.datetime) -> Question:
    """Record ``asker``'s question for ``organisation`` (one of theirs; the view checks that);
    refused once the questions period has ended at ``now``."""
    if not state.accepts_questions(tender, now):
        raise Refusal(
            CONFLICT,
            _("The questions period of this tender has ended; questions are no longer accepted."),
            errors=[
                FieldError(
                    "text",
                    _(
                        "The questions period of this tender has ended; questions are no "
                        "longer accepted."
                    ),
                )
            ],
            about=tender,
        )
    question = Question(
        tender=tender,
        asked_by_id=asker.id,
        organisation_id=organisation.id,
        text=_text("text", text),
        asked_at=now,
    )
    dbsession.add(question)
    dbsession.flush()
    events.announce(events.QuestionAsked(question, dbsession))
    return question


def may_answer(tender: Tender, now: dt.datetime) -> bool:
    """Answers are published until the deadline: after it they can no longer help any
    bidder, and could only help one whose bid is already in."""
    return state.due_status(tender, now) in state.OPEN_FOR_BIDS


def answer(dbsession, tender: Tender, public_id, *, answerer, text, now: dt.datetime) -> Question:
    """Publish the buyer's answer to the question ``public_id`` of ``tender``. An answer is
    given once: bidders may have relied on it, so it is not changed afterwards (an amendment
    of the tender is the way to correct one)."""
    question = dbsession.scalar(
        select(Question).where(
            Question.tender_id == tender.id,
            Question.public_id == (public_id if isinstance(public_id, str) else ""),
        )
    )
    if question is None:
        raise Refusal(NOT_FOUND, _("There is no such question on this tender."))
    if question.answered_at is not None:
        raise Refusal(CONFLICT, _("This question has been answered already."), about=question)
    if not may_answer(tender, now):
        raise Refusal(
            CONFLICT, _("The deadline of this tender has passed; answers are closed."), about=tender
        )
    question.answer = _text("answer", text)
    question.answered_at = now
    question.answered_by_id = answerer.id
    dbsession.flush()
    events.announce(events.QuestionAnswered(question, dbsession))
    enqueue_after_commit(dbsession, email_answer_task, question.id)
    return question


@task(retries=5, retry_delay=60)
def email_answer_task(registry: Registry, question_id: int) -> None:
    """Tell the asker, in their language, that their question is answered, once the answer
    is committed; the mail links to the tender's page rather than repeating the answer."""
    settings = registry.settings
    with task_dbsession(registry) as dbsession:
        question = dbsession.get_one(Question, question_id)
        asker = dbsession.get_one(User, question.asked_by_id)
        tender = question.tender
        if not asker.email:
            return
        url = f"{settings['portal.base_url']}/tenders/{tender.reference}#questions"
        body = _(
            "Dear ${name},\n\nyour question on tender ${reference} (${title}) has been answered. "
            "The answer is published on the tender's page, for every bidder to read, without "
            "your name:\n\n${url}\n",
            mapping={
                "name": asker.display_name,
                "reference": tender.reference,
                "title": tender.title,
                "url": url,
            },
        )
        subject = _(
            "Your question on tender ${reference} is answered",
            mapping={"reference": tender.reference},
        )
        translate = document_localizer(asker.locale).translate
        mail = message(
            settings.get("mail.default_sender", "no-reply@localhost"),
            asker.email,
            translate(subject),
            translate(body),
        )
        mailer(registry).send_immediately(mail)
    log.info("answer to question %s e-mailed to its asker", question_id)


def answered(tender: Tender) -> list[Question]:
    """The questions everyone may read, in the order they were answered."""
    found = [q for q in tender.questions if q.answered_at is not None]
    return sorted(found, key=lambda q: (q.answered_at, q.id))


def awaiting_answer_by(tender: Tender, user) -> list[Question]:
    """``user``'s own questions not answered yet (only they see them)."""
    if user is None:
        return []
    return [q for q in tender.questions if q.answered_at is None and q.asked_by_id == user.id]
