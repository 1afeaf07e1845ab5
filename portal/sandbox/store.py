"""The sandbox's durable state (payments, refunds, notification outbox) in one SQLite file.

Each unit of work opens its own connection and holds SQLite's write lock (`BEGIN IMMEDIATE`) for its
whole read-check-write, so waitress's threads and the delivery thread never interleave half a
change; unique constraints back every idempotency key.
"""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    return_url TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    failure_reason TEXT,
    brand TEXT,
    last4 TEXT,
    awaiting_challenge INTEGER NOT NULL DEFAULT 0,
    silent INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    finished_at REAL,
    UNIQUE (merchant_id, reference)
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    reference TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (payment_id, reference)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    notify_url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    abandoned_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
"""


class Store:
    """Opens short transactions on the sandbox database file."""

    def __init__(self, path: str):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator["Records"]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Records(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


class Records:
    """The queries the sandbox needs, run inside one transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def payment(self, payment_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()

    def payment_by_reference(self, merchant_id: str, reference: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM payments WHERE merchant_id = ? AND reference = ?",
            (merchant_id, reference),
        ).fetchone()

    def insert_payment(self, **values) -> None:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(
            f"INSERT INTO payments ({columns}) VALUES ({marks})",  # noqa: S608 (column names are ours)
            tuple(values.values()),
        )

    def update_payment(self, payment_id: str, **values) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.conn.execute(
            f"UPDATE payments SET {assignments} WHERE id = ?",  # noqa: S608 (column names are ours)
            (*values.values(), payment_id),
        )

    def refunded_amount(self, payment_id: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds"
            " WHERE payment_id = ? AND status = 'succeeded'",
            (payment_id,),
        ).fetchone()
        return row[0]

    def refund_by_reference(self, payment_id: str, reference: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM refunds WHERE payment_id = ? AND reference = ?", (payment_id, reference)
        ).fetchone()

    def insert_refund(self, **values) -> None:
        self.conn.execute(
            "INSERT INTO refunds (id, payment_id, reference, amount, currency, status, created_at)"
            " VALUES (:id, :payment_id, :reference, :amount, :currency, :status, :created_at)",
            values,
        )

    def settled_payments(self, start: float, end: float) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM payments WHERE status = 'succeeded'"
            " AND finished_at >= ? AND finished_at < ? ORDER BY finished_at, id",
            (start, end),
        ).fetchall()

    def settled_refunds(self, start: float, end: float) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM refunds WHERE status = 'succeeded'"
            " AND created_at >= ? AND created_at < ? ORDER BY created_at, id",
            (start, end),
        ).fetchall()

    def enqueue_event(self, event_id: str, notify_url: str, body: str, first_attempt_at: float):
        self.conn.execute(
            "INSERT INTO outbox (event_id, notify_url, body, next_attempt_at) VALUES (?, ?, ?, ?)",
            (event_id, notify_url, body, first_attempt_at),
        )

    def due_events(self, now: float) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at, seq",
            (now,),
        ).fetchall()

    def next_event_due_at(self) -> float | None:
        row = self.conn.execute(
            "SELECT MIN(next_attempt_at) FROM outbox"
            " WHERE delivered_at IS NULL AND abandoned_at IS NULL"
        ).fetchone()
        return row[0]

    def record_delivery(self, seq: int, now: float) -> None:
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?, last_error = NULL"
            " WHERE seq = ?",
            (now, seq),
        )

    def record_failure(self, seq: int, error: str, retry_at: float | None, now: float) -> None:
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = COALESCE(?, next_attempt_at),"
            " abandoned_at = CASE WHEN ? IS NULL THEN ? END WHERE seq = ?",
            (error, retry_at, retry_at, now, seq),
        )

    def events(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM outbox ORDER BY seq").fetchall()
