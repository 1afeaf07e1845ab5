"""What applications tell the rest of the portal: an application is waiting for a clerk, and a
clerk decided one.

Announced through the registry (``registry.notify``) inside the transaction that made the
change, with its ``dbsession``, as billing's events are (:mod:`portal.billing.events`): what a
subscriber records commits or rolls back with the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.db import registry_of


@dataclass(frozen=True)
class ApplicationQueued:
    """``application``'s fee is paid: it waits in its department's queue for a decision."""

    application: Application
    dbsession: Session


@dataclass(frozen=True)
class ApplicationDecided:
    """A clerk approved or rejected ``application`` (its ``status`` says which)."""

    application: Application
    dbsession: Session


def announce(event: ApplicationQueued | ApplicationDecided) -> None:
    """Tell the subscribers of the portal whose session made ``event``."""
    registry_of(event.dbsession).notify(event)
