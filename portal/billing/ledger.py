"""The double-entry ledger: every money movement is one balanced, append-only transaction.

Debits are positive and credits negative; a transaction's entries sum to zero per currency.
Entries are never changed or deleted: a correction is a reversing transaction. PostgreSQL
enforces this with triggers (see the migration); the ORM guard below enforces it everywhere.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    bindparam,
    event,
    func,
    insert,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.sql import Insert, Select

from portal.billing.models import Bill, JournalEntry, JournalTransaction, LedgerAccount
from portal.db import Prebuilt, insert_unless_present, one_of, run_write, table_of, utcnow
from portal.money import Money

RECEIVABLE = "receivable"
REVENUE = "revenue"
CLEARING = "clearing"
#: money held for payers (deposits) until it is given back or forfeited
LIABILITY = "liability"
#: what the authority gave up collecting (bills written off)
EXPENSE = "expense"


class LedgerError(RuntimeError):
    """An attempt to break the ledger's rules: unbalanced, or changing what was posted."""


class AlreadyPosted(LedgerError):
    """This business event has been posted before; nothing was added."""


_ENTRIES = table_of(JournalEntry)
_ACCOUNTS = table_of(LedgerAccount)
_TRANSACTIONS = table_of(JournalTransaction)
TRANSACTION_COLUMNS = ("kind", "idempotency", "description", "created_at", "reverses_id")


def _transaction_insert(dialect: str) -> Insert:
    """A transaction's row, unless its ``idempotency`` was posted before."""
    return (
        insert_unless_present(dialect, _TRANSACTIONS, "idempotency")
        .values({name: bindparam(name) for name in TRANSACTION_COLUMNS})
        .returning(_TRANSACTIONS.c.id)
    )


_INSERT_TRANSACTION = Prebuilt(_transaction_insert)


@dataclass(frozen=True)
class Line:
    account: str
    kind: str
    amount: Money
    bill_id: int | None = None


def receivable_account(bill) -> tuple[str, str]:
    if bill.payer_user_id is not None:
        return f"receivable:user:{bill.payer_user_id}", RECEIVABLE
    return f"receivable:organisation:{bill.payer_organisation_id}", RECEIVABLE


def revenue_account(service_code: str) -> tuple[str, str]:
    return f"revenue:{service_code}", REVENUE


def clearing_account(provider: str) -> tuple[str, str]:
    return f"clearing:{provider}", CLEARING


def write_off_account(service_code: str) -> tuple[str, str]:
    return f"write-off:{service_code}", EXPENSE


def deposits_account(service_code: str) -> tuple[str, str]:
    return f"deposits:{service_code}", LIABILITY


def issued_to(dbsession, bill) -> tuple[str, str]:
    """The account a bill's issue was credited to (its service's revenue, or its deposits
    account for a deposit), so that cancelling the bill takes the amount back from there."""
    account = dbsession.scalar(
        select(LedgerAccount)
        .join(JournalEntry, JournalEntry.account_id == LedgerAccount.id)
        .join(JournalTransaction, JournalEntry.transaction_id == JournalTransaction.id)
        .where(
            JournalTransaction.idempotency == f"bill:{bill.id}:issued",
            LedgerAccount.kind != RECEIVABLE,
        )
    )
    return account.code, account.kind


def _insert_entries(dbsession: Session, transaction_id: int, lines: list[Line]) -> int:
    """Insert ``lines`` as entries of ``transaction_id`` in one statement, each account found
    by its code in the same statement; returns how many were inserted (a line whose account
    does not exist yet is not)."""
    params: dict[str, object] = {"transaction_id": transaction_id, **_line_params(lines)}
    return len(run_write(dbsession, _entries_insert(len(lines))(dbsession), params).all())


def _line_params(lines: list[Line]) -> dict[str, object]:
    params: dict[str, object] = {}
    for i, line in enumerate(lines):
        params[f"code_{i}"] = line.account
        params[f"bill_{i}"] = line.bill_id
        params[f"amount_{i}"] = line.amount.minor
        params[f"currency_{i}"] = line.amount.currency
    return params


_ENTRY_COLUMNS = ["transaction_id", "account_id", "bill_id", "amount_minor", "currency"]


def _entry_rows(count: int, transaction_id):
    """The rows of ``count`` lines (given as parameters ``code_i``, ``bill_i``, ``amount_i``,
    ``currency_i``) for ``journal_entry``, joined to their accounts by code, in the
    transaction ``transaction_id`` (a column or a parameter)."""
    given = union_all(
        *(
            select(
                bindparam(f"code_{i}", type_=String).label("code"),
                bindparam(f"bill_{i}", type_=Integer).label("bill_id"),
                bindparam(f"amount_{i}", type_=BigInteger).label("amount_minor"),
                bindparam(f"currency_{i}", type_=String).label("currency"),
            )
            for i in range(count)
        )
    ).subquery()
    return select(
        transaction_id, _ACCOUNTS.c.id, given.c.bill_id, given.c.amount_minor, given.c.currency
    ).join_from(given, _ACCOUNTS, _ACCOUNTS.c.code == given.c.code)


@functools.cache
def _entries_insert(count: int) -> Prebuilt:
    """``INSERT INTO journal_entry ... SELECT`` of ``count`` lines (:func:`_entry_rows`):
    built once for each number of lines a transaction has."""
    return Prebuilt(
        lambda dialect: (
            insert(_ENTRIES)
            .from_select(
                _ENTRY_COLUMNS, _entry_rows(count, bindparam("transaction_id", type_=Integer))
            )
            .returning(_ENTRIES.c.id)
        )
    )


@functools.cache
def _posting(count: int, balances: bool) -> Prebuilt:
    """PostgreSQL only: the transaction's row (unless its ``idempotency`` was posted before)
    and its ``count`` entries in one statement; it returns the transaction's id and how many
    entries found their account, or no row when nothing was posted. ``balances``: also what
    each of the bills given as ``bill_ids`` owed, read in the same statement (its snapshot
    does not see the entries it inserts): a row per bill that has entries, or one row with
    NULL balances when none has.

    ``WITH posted AS (INSERT INTO journal_transaction ... RETURNING id), entries AS (INSERT
    INTO journal_entry ... SELECT posted.id ...) SELECT ...``: one statement where SQLite,
    which has no INSERT inside WITH, runs two (three with the balances)."""

    def build(dialect: str):
        posted = _transaction_insert(dialect).cte("posted")
        entries = (
            insert(_ENTRIES)
            .from_select(_ENTRY_COLUMNS, _entry_rows(count, posted.c.id).join(posted, true()))
            .returning(_ENTRIES.c.id)
            .cte("entries")
        )
        found = select(func.count()).select_from(entries).scalar_subquery()
        if not balances:
            return select(posted.c.id, found)
        owed = _bill_balances(dialect).subquery()
        return select(posted.c.id, found, *owed.c).outerjoin_from(posted, owed, true())

    return Prebuilt(build)


def _post_to_new_accounts(dbsession: Session, transaction_id: int, lines: list[Line]) -> None:
    """Open the accounts of the ``lines`` that found none, and post those lines."""
    inserted = Counter(
        tuple(row)
        for row in dbsession.execute(
            select(LedgerAccount.code, JournalEntry.bill_id, JournalEntry.amount_minor)
            .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
            .where(JournalEntry.transaction_id == transaction_id)
        )
    )
    remaining = []
    for line in lines:
        key = (line.account, line.bill_id, line.amount.minor)
        if inserted[key]:
            inserted[key] -= 1
        else:
            remaining.append(line)
    # opened here, or by a concurrent transaction meanwhile (accounts are never removed)
    accounts = {line.account: line.kind for line in remaining}
    dbsession.execute(
        insert_unless_present(dbsession, LedgerAccount, "code"),
        [{"code": code, "kind": kind} for code, kind in accounts.items()],
    )
    if _insert_entries(dbsession, transaction_id, remaining) != len(remaining):
        raise LedgerError(f"transaction {transaction_id}: accounts missing after opening them")


def post(
    dbsession: Session,
    kind: str,
    idempotency: str,
    description: str,
    lines: list[Line],
    reverses: JournalTransaction | None = None,
) -> JournalTransaction:
    """Post one balanced transaction (:func:`append`) and return it as a persistent object,
    without reading it back."""
    row, _ = _write(dbsession, kind, idempotency, description, lines, reverses)
    transaction = JournalTransaction(**row)
    make_transient_to_detached(transaction)
    dbsession.add(transaction)
    return transaction


def append(
    dbsession: Session, kind: str, idempotency: str, description: str, lines: list[Line]
) -> int:
    """Post one balanced transaction and return only its id: for the callers that never read
    the transaction back, which then build no object for the session (about a tenth of the
    ledger's CPU in a payment notification)."""
    return _write(dbsession, kind, idempotency, description, lines, None)[0]["id"]


def append_owed_before(
    dbsession: Session,
    kind: str,
    idempotency: str,
    description: str,
    lines: list[Line],
    bill_ids: list[int],
) -> tuple[int, dict[int, int]]:
    """:func:`append`, and what each of ``bill_ids`` owed just before it (as
    :func:`bill_balances` would have read then): for a caller that has locked the bills and
    must know whether this posting paid more than they owed. One statement on PostgreSQL."""
    row, owed = _write(dbsession, kind, idempotency, description, lines, None, bill_ids)
    return row["id"], owed


def _write(
    dbsession: Session,
    kind: str,
    idempotency: str,
    description: str,
    lines: list[Line],
    reverses: JournalTransaction | None,
    owed_of: list[int] | None = None,
) -> tuple[dict, dict[int, int]]:
    """Write one balanced transaction; its row (with its id) and what each bill of
    ``owed_of`` owed before it (empty if not asked), or :class:`AlreadyPosted` if
    ``idempotency`` was used.

    Written with plain INSERTs (the transaction's row unless its ``idempotency`` is taken,
    then all its entries, with their accounts looked up): an append-only row has nothing for
    the unit of work to track. On PostgreSQL they are one statement with the balances
    (:func:`_posting`); on SQLite the balances, the transaction and its entries are three.
    """
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.amount.currency] += line.amount.minor
    if not lines or any(totals.values()):
        raise LedgerError(f"unbalanced transaction {idempotency}: {dict(totals)}")
    row = {
        "kind": kind,
        "idempotency": idempotency,
        "description": description,
        "created_at": utcnow(),
        "reverses_id": reverses.id if reverses else None,
    }
    posted = [line for line in lines if line.amount.minor != 0]
    owed: dict[int, int] = {}
    found = 0
    if dbsession.get_bind().dialect.name == "postgresql":
        statement = _posting(len(posted), owed_of is not None)(dbsession)
        params = {**row, **_line_params(posted)}
        if owed_of is not None:
            params["bill_ids"] = owed_of
            owed = dict.fromkeys(owed_of, 0)
        rows = run_write(dbsession, statement, params).all()
        # no row: posted before, or by a concurrent transaction just now
        transaction_id, found = rows[0][:2] if rows else (None, 0)
        owed.update({each[2]: int(each[3]) for each in rows if owed_of and each[2] is not None})
    else:
        if owed_of is not None:
            owed = bill_balances(dbsession, owed_of)
        transaction_id = run_write(dbsession, _INSERT_TRANSACTION(dbsession), row).scalar()
        if transaction_id is not None:
            found = _insert_entries(dbsession, transaction_id, posted)
    if transaction_id is None:
        raise AlreadyPosted(idempotency)
    if found != len(posted):
        _post_to_new_accounts(dbsession, transaction_id, posted)
    return dict(row, id=transaction_id), owed


def reverse(
    dbsession: Session, original: JournalTransaction, description: str
) -> JournalTransaction:
    """The correction of a posted transaction: the same entries with opposite signs."""
    lines = [
        Line(
            entry.account.code,
            entry.account.kind,
            -Money(entry.amount_minor, entry.currency),
            entry.bill_id,
        )
        for entry in original.entries
    ]
    return post(
        dbsession, "reversal", f"reversal:{original.id}", description, lines, reverses=original
    )


def account_balance(dbsession: Session, code: str) -> dict[str, int]:
    """Balance per currency of the account named ``code``."""
    rows = dbsession.execute(
        select(JournalEntry.currency, func.sum(JournalEntry.amount_minor))
        .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.code == code)
        .group_by(JournalEntry.currency)
    )
    return {currency: int(total) for currency, total in rows}


def bill_balances(dbsession: Session, bill_ids: list[int]) -> dict[int, int]:
    """What is still owed on each bill (minor units): its receivable entries' sum."""
    if not bill_ids:
        return {}
    rows = dbsession.execute(_BILL_BALANCES(dbsession), {"bill_ids": bill_ids})
    balances = dict.fromkeys(bill_ids, 0)
    balances.update({bill_id: int(total) for bill_id, total in rows if bill_id is not None})
    return balances


def _bill_balances(dialect: str) -> Select:
    """The receivable entries' sum of each bill given as ``bill_ids`` that has entries."""
    return (
        select(_ENTRIES.c.bill_id, func.sum(_ENTRIES.c.amount_minor))
        .join(_ACCOUNTS, _ENTRIES.c.account_id == _ACCOUNTS.c.id)
        .where(
            one_of(_ENTRIES.c.bill_id, "bill_ids", dialect),
            _ACCOUNTS.c.kind == RECEIVABLE,
        )
        .group_by(_ENTRIES.c.bill_id)
    )


_BILL_BALANCES = Prebuilt(_bill_balances)


def bill_outstanding():
    """What is still owed on a bill, as SQL correlated to ``Bill``: the same sum as
    :func:`bill_balances`, for queries that filter bills by their status."""
    return (
        select(func.coalesce(func.sum(JournalEntry.amount_minor), 0))
        .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
        .where(JournalEntry.bill_id == Bill.id, LedgerAccount.kind == RECEIVABLE)
        .scalar_subquery()
    )


def guard_append_only(session_factory: sessionmaker[Session]) -> None:
    """Refuse, in the sessions ``session_factory`` makes, to change or delete posted entries
    (the database refuses it too; this says why before the statement is sent)."""
    event.listen(session_factory, "before_flush", _append_only)


def _append_only(session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, JournalEntry | JournalTransaction) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise LedgerError("the ledger is append-only: post a reversing transaction instead")
