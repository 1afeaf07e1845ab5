"""What procurement tells the rest of the portal: a bidder asked a question or had a complaint
registered, and the buyer answered or the reviewer decided it.

Announced through the registry (``registry.notify``) inside the transaction that made the
change, with its ``dbsession``, as billing's events are (:mod:`portal.billing.events`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.db import registry_of
from portal.procurement.models import Complaint, Question


@dataclass(frozen=True)
class QuestionAsked:
    """A bidder asked ``question``; the buyer is to answer it."""

    question: Question
    dbsession: Session


@dataclass(frozen=True)
class QuestionAnswered:
    """The buyer published the answer to ``question``."""

    question: Question
    dbsession: Session


@dataclass(frozen=True)
class ComplaintRegistered:
    """``complaint``'s fee is paid: it waits for the reviewer's decision."""

    complaint: Complaint
    dbsession: Session


@dataclass(frozen=True)
class ComplaintDecided:
    """The reviewer upheld or rejected ``complaint`` (its ``status`` says which)."""

    complaint: Complaint
    dbsession: Session


def announce(
    event: QuestionAsked | QuestionAnswered | ComplaintRegistered | ComplaintDecided,
) -> None:
    """Tell the subscribers of the portal whose session made ``event``."""
    registry_of(event.dbsession).notify(event)
