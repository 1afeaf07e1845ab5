"""Billing announces what happened through the app's registry, inside the transaction that
changed billing: subscribers get that transaction's session."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy.orm import sessionmaker

from portal.billing.bills import cancel_bill
from portal.billing.events import BillCancelled
from portal.clock import clock as app_clock
from tests import factories


@contextlib.contextmanager
def heard(registry, event_type):
    """The events of ``event_type`` announced while the block runs."""
    seen: list = []
    registry.registerHandler(seen.append, (event_type,))
    try:
        yield seen
    finally:
        registry.unregisterHandler(seen.append, (event_type,))


def test_cancelling_a_bill_is_announced_in_its_transaction(dbsession, wsgi_app):
    bill = factories.bill(dbsession, factories.user(dbsession))
    with heard(wsgi_app.registry, BillCancelled) as seen:
        cancel_bill(dbsession, bill, "assessed twice", app_clock(wsgi_app.registry).now())
    assert seen == [BillCancelled(bill, dbsession)]
    assert seen[0].bill.cancelled_at is not None  # announced once the cancel is recorded


def test_a_session_of_no_app_cannot_announce(engine, wsgi_app):
    """Billing refuses to change things in a session whose subscribers it cannot reach,
    rather than changing them silently unheard."""
    session = sessionmaker(bind=engine)()
    try:
        bill = factories.bill(session, factories.user(session))
        with pytest.raises(LookupError, match="session factory"):
            cancel_bill(session, bill, "assessed twice", app_clock(wsgi_app.registry).now())
    finally:
        session.rollback()
        session.close()
