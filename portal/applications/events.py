"""What applications tell the rest of the portal: an application is waiting for a clerk, a
clerk decided one, a paid application's cancellation or rejection waits for a second clerk's
approval or was decided.

Announced through the registry (``registry.notify``) inside the transaction that made the
change, with its ``dbsession``, as billing's events are (:mod:`portal.billing.events`): what a
subscriber records commits or rolls back with the change. The cancellation and rejection events
are billing's approval events with the application added, so a subscriber to
:class:`~portal.billing.events.ApprovalRequested` hears of every request for a second clerk,
whatever it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.billing.events import ApprovalDecided, ApprovalRequested
from portal.db import registry_of


@dataclass(frozen=True)
class ApplicationQueued:
    """``application``'s fee is paid: it waits in its department's queue for a decision."""

    application: Application
    dbsession: Session


@dataclass(frozen=True)
class ApplicationDecided:
    """A clerk approved, rejected or cancelled ``application`` (its ``status`` says which)."""

    application: Application
    dbsession: Session


def announce(event: ApplicationQueued | ApplicationDecided) -> None:
    """Tell the subscribers of the portal whose session made ``event``."""
    registry_of(event.dbsession).notify(event)


@dataclass(frozen=True)
class CancellationApprovalRequested(ApprovalRequested):
    """A clerk asked to cancel paid ``application`` (refunding its fee) above the threshold."""

    application: Application | None = None


@dataclass(frozen=True)
class CancellationApprovalDecided(ApprovalDecided):
    """A second clerk approved (the application is cancelled, its fee sent back) or rejected
    (it stays in the queue) the cancellation of ``application``."""

    application: Application | None = None


@dataclass(frozen=True)
class RejectionApprovalRequested(ApprovalRequested):
    """A clerk asked to reject paid ``application`` (refunding its fee) above the threshold."""

    application: Application | None = None


@dataclass(frozen=True)
class RejectionApprovalDecided(ApprovalDecided):
    """A second clerk approved (the application is rejected, its fee sent back) or rejected
    (it stays in the queue) the rejection of ``application``."""

    application: Application | None = None
