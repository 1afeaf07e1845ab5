"""A test's ear on the four-eyes events, as a subscriber such as the work queue hears them."""

from __future__ import annotations

import pytest

from portal.billing.events import ApprovalDecided, ApprovalRequested


@pytest.fixture
def heard(wsgi_app):
    """The approval events announced meanwhile, as a subscriber (the work queue) hears them:
    (event type, approval kind, status, application public id if any)."""
    events = []

    def listen(event):
        application = getattr(event, "application", None)
        events.append(
            (
                type(event),
                event.approval.kind,
                event.approval.status,
                application.public_id if application else None,
            )
        )

    for interface in (ApprovalRequested, ApprovalDecided):
        wsgi_app.registry.registerHandler(listen, (interface,))
    yield events
    for interface in (ApprovalRequested, ApprovalDecided):
        wsgi_app.registry.unregisterHandler(listen, (interface,))
