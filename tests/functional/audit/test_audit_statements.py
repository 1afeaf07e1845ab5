"""What an audited transaction costs: the entries of a transaction are written in two
statements on PostgreSQL (three on SQLite) when it commits, whatever number it queued."""

from __future__ import annotations

import pytest
import transaction

from portal.audit import record, verify
from portal.db import get_tm_session
from tests.sql import statements


@pytest.mark.parametrize("count", [1, 3])
def test_a_transactions_entries_cost_two_statements_on_postgresql(wsgi_app, engine, count):
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
    expected = 2 if engine.dialect.name == "postgresql" else 3
    assert len(writes) == expected, writes
    assert writes[0].startswith("UPDATE audit_head SET seq=(audit_head.seq +")
    with manager:
        result = verify(get_tm_session(factory, manager))
    assert result.ok
    assert result.count == count + 1
