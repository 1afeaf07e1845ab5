"""On PostgreSQL the database itself keeps the log append-only (triggers), and writers
committing at the same moment never fork the chain (the head row's lock)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import transaction
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import IntegrityError

from portal.audit import prune_before, record, verify
from portal.audit.models import AuditEntry, AuditHead
from portal.db import get_tm_session

pytestmark = pytest.mark.postgresql


def entries(in_transaction, count: int = 3) -> None:
    for n in range(count):
        with in_transaction() as dbsession:
            record(dbsession, "a.b", details={"n": n}, personal={"name": f"P{n}"})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'x.y' WHERE seq = 2",
        "UPDATE audit_entry SET details = '{\"n\": 7}' WHERE seq = 2",
        'UPDATE audit_entry SET personal = \'{"name": "Eve"}\' WHERE seq = 2',
        "UPDATE audit_entry SET personal = NULL, hash = prev_hash WHERE seq = 2",
        "DELETE FROM audit_entry WHERE seq = 2",
        "DELETE FROM audit_entry WHERE seq = 1",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET seq = 1",
        "UPDATE audit_head SET pruned_seq = 2",
        "UPDATE audit_head SET pruned_hash = hash",
        "TRUNCATE audit_entry",
        "TRUNCATE audit_head",
        "TRUNCATE audit_entry, audit_head",
    ],
)
def test_the_database_refuses_to_rewrite_history(in_transaction, engine, statement):
    entries(in_transaction)

    with pytest.raises(IntegrityError, match="audit"), engine.begin() as connection:
        connection.execute(text(statement))

    with in_transaction() as dbsession:
        assert verify(dbsession).ok
        assert dbsession.scalar(select(AuditHead.seq)) == 3


def test_the_database_lets_personal_data_be_redacted(in_transaction, engine):
    entries(in_transaction)

    with engine.begin() as connection:
        redacted = connection.execute(text("UPDATE audit_entry SET personal = NULL")).rowcount

    assert redacted == 3
    with in_transaction() as dbsession:
        assert verify(dbsession).ok


def test_the_database_lets_pruning_delete_only_below_the_checkpoint(in_transaction, engine, clock):
    entries(in_transaction, 4)
    clock.advance(days=400)
    with in_transaction() as dbsession:
        cut = dbsession.scalar(select(AuditEntry.occurred_at).where(AuditEntry.seq == 3))
        assert prune_before(dbsession, cut) == 2

    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    with in_transaction() as dbsession:
        result = verify(dbsession)
        assert result.ok, result.broken
        assert [e.seq for e in dbsession.scalars(select(AuditEntry).order_by("seq"))] == [3, 4, 5]


def test_moving_the_checkpoint_to_the_head_and_deleting_everything_does_not_verify(
    in_transaction, engine
):
    """The triggers let the checkpoint move onto any entry and everything below it go; what
    no pruning recorded, verification refuses."""
    entries(in_transaction)

    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_head SET pruned_seq = seq, pruned_hash = hash"))
        assert connection.execute(text("DELETE FROM audit_entry")).rowcount == 3

    with in_transaction() as dbsession:
        broken = verify(dbsession).broken
    assert broken is not None and "no audit.pruned entry" in broken.problem


WRITERS = 12
ROUNDS = 5


def test_concurrent_writers_never_fork_the_chain(wsgi_app, engine, in_transaction):
    """Twelve threads, each with its own connection, commit five transactions of one to three
    entries each, all released at once by a barrier every round."""
    factory = wsgi_app.registry["dbsession_factory"]
    barrier = threading.Barrier(WRITERS, timeout=30)

    def writer(number: int) -> int:
        written = 0
        for round_ in range(ROUNDS):
            manager = transaction.TransactionManager(explicit=True)
            with manager:
                dbsession = get_tm_session(factory, manager)
                for n in range(1 + (number + round_) % 3):
                    record(dbsession, "test.concurrent", actor_id=number, details={"n": n})
                    written += 1
                barrier.wait()
        return written

    with ThreadPoolExecutor(WRITERS) as pool:
        written = sum(pool.map(writer, range(WRITERS)))

    with in_transaction() as dbsession:
        seqs = list(dbsession.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        prev = list(dbsession.scalars(select(AuditEntry.prev_hash)))
        result = verify(dbsession)
    assert seqs == list(range(1, written + 1))
    assert len(set(prev)) == written, "two entries link to the same one: a fork"
    assert result.ok, result.broken
    assert result.count == written


def test_verify_ignores_entries_committed_while_it_walks(wsgi_app, engine, in_transaction):
    """A writer commits an entry between verify's reading of the head and its reading of the
    entries (READ COMMITTED would show the new entry, past the head verify read): the walk is
    of the chain as it was when verify began, and finds it intact."""
    entries(in_transaction)
    factory = wsgi_app.registry["dbsession_factory"]
    written = []

    def write_one_on_the_walk(conn, cursor, statement, parameters, context, executemany):
        if not written and re.search(r"FROM audit_entry\s+(WHERE .*)?ORDER BY", statement):
            written.append(True)
            manager = transaction.TransactionManager(explicit=True)
            with manager:
                record(get_tm_session(factory, manager), "a.b", details={"n": "meanwhile"})

    event.listen(Engine, "before_cursor_execute", write_one_on_the_walk)
    try:
        with in_transaction() as dbsession:
            result = verify(dbsession)
    finally:
        event.remove(Engine, "before_cursor_execute", write_one_on_the_walk)

    assert written
    assert result.ok, result.broken
    assert (result.count, result.head_seq) == (3, 3)
    with in_transaction() as dbsession:
        assert verify(dbsession).count == 4
