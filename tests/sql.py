"""The SQL an application runs, recorded for tests that count or read its statements."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event


@contextlib.contextmanager
def statements(wsgi_app) -> Iterator[list[str]]:
    """Every statement ``wsgi_app``'s engine runs inside the block, whitespace collapsed;
    SQLite's ``BEGIN IMMEDIATE`` (how each transaction begins there) left out, so counts are
    the same on SQLite and PostgreSQL."""
    engine = wsgi_app.registry["db_engine"]
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.strip().upper() != "BEGIN IMMEDIATE":
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
