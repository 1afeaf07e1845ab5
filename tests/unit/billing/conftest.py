"""Billing's money core called directly, without HTTP, on a real database session."""

from __future__ import annotations

import pytest
import transaction
import zope.sqlalchemy

from tests import factories


@pytest.fixture
def dbsession(dbsession):
    """The session as billing gets it from a request or a task: joined to a transaction
    manager, so work it queues for after the commit (rendering a receipt, sending a refund)
    waits for a commit that never comes; the test's outer transaction is rolled back."""
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    zope.sqlalchemy.register(dbsession, transaction_manager=manager)
    dbsession.info["tm"] = manager
    yield dbsession
    manager.abort()


@pytest.fixture
def payer(dbsession):
    return factories.user(dbsession)
