"""What applications tell the rest of the portal: a paid application's cancellation waits for
a second clerk's approval, or was decided.

They are billing's approval events (:mod:`portal.billing.events`) with the application added,
so a subscriber to :class:`~portal.billing.events.ApprovalRequested` hears of every request
for a second clerk, whatever it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.applications.models import Application
from portal.billing.events import ApprovalDecided, ApprovalRequested


@dataclass(frozen=True)
class CancellationApprovalRequested(ApprovalRequested):
    """A clerk asked to cancel paid ``application`` (refunding its fee) above the threshold."""

    application: Application | None = None


@dataclass(frozen=True)
class CancellationApprovalDecided(ApprovalDecided):
    """A second clerk approved (the application is cancelled, its fee sent back) or rejected
    (it stays in the queue) the cancellation of ``application``."""

    application: Application | None = None
