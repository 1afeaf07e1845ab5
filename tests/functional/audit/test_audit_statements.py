"""What an audited transaction costs: one statement per entry, written when it commits, on
PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest
import transaction

from portal.audit import record, verify
from portal.db import get_tm_session
from tests.sql import statements


@pytest.mark.parametrize("count", [1, 3])
def test_each_entry_costs_one_statement(wsgi_app, count):
    factory = wsgi_app.registry["dbsession_factory"]
    manager = transaction.TransactionManager(explicit=True)
    with manager:
        dbsession = get_tm_session(factory, manager)
        record(dbsession, "a.warm")
    with statements(wsgi_app) as seen, manager:
        dbsession = get_tm_session(factory, manager)
        for n in range(count):
            record(dbsession, "payment.succeeded", object=("payment", n))

    writes = [s for s in seen if not s.startswith(("COMMIT", "ROLLBACK", "BEGIN"))]
    assert len(writes) == count, writes
    assert all(s.startswith("INSERT INTO audit_entry") for s in writes)
    with manager:
        result = verify(get_tm_session(factory, manager))
    assert result.ok
    assert result.count == count + 1
