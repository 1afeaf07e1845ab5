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
    union_all,
)
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

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
#: a transaction's row, unless its ``idempotency`` was posted before
_INSERT_TRANSACTION = Prebuilt(
    lambda dialect: (
        insert_unless_present(dialect, _TRANSACTIONS, "idempotency")
        .values({name: bindparam(name) for name in TRANSACTION_COLUMNS})
        .returning(_TRANSACTIONS.c.id)
    )
)


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
    params: dict[str, object] = {"transaction_id": transaction_id}
    for i, line in enumerate(lines):
        params[f"code_{i}"] = line.account
        params[f"bill_{i}"] = line.bill_id
        params[f"amount_{i}"] = line.amount.minor
        params[f"currency_{i}"] = line.amount.currency
    return len(run_write(dbsession, _entries_insert(len(lines))(dbsession), params).all())


@functools.cache
def _entries_insert(count: int) -> Prebuilt:
    """``INSERT INTO journal_entry ... SELECT`` of ``count`` lines (given as parameters
    ``code_i``, ``bill_i``, ``amount_i``, ``currency_i``) joined to their accounts by code:
    built once for each number of lines a transaction has."""

    def build(dialect: str):
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
        rows = select(
            bindparam("transaction_id", type_=Integer),
            _ACCOUNTS.c.id,
            given.c.bill_id,
            given.c.amount_minor,
            given.c.currency,
        ).join_from(given, _ACCOUNTS, _ACCOUNTS.c.code == given.c.code)
        columns = ["transaction_id", "account_id", "bill_id", "amount_minor", "currency"]
        return insert(_ENTRIES).from_select(columns, rows).returning(_ENTRIES.c.id)

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
    row = _write(dbsession, kind, idempotency, description, lines, reverses)
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
    return _write(dbsession, kind, idempotency, description, lines, None)["id"]


def _write(
    dbsession: Session,
    kind: str,
    idempotency: str,
    description: str,
    lines: list[Line],
    reverses: JournalTransaction | None,
) -> dict:
    """Write one balanced transaction; its row (with its id), or :class:`AlreadyPosted` if
    ``idempotency`` was used.

    Written with plain INSERTs (the transaction's row unless its ``idempotency`` is taken,
    then all its entries, with their accounts looked up, in one statement): an append-only
    row has nothing for the unit of work to track.
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
    transaction_id = run_write(dbsession, _INSERT_TRANSACTION(dbsession), row).scalar()
    if transaction_id is None:  # posted before, or by a concurrent transaction just now
        raise AlreadyPosted(idempotency)
    posted = [line for line in lines if line.amount.minor != 0]
    if _insert_entries(dbsession, transaction_id, posted) != len(posted):
        _post_to_new_accounts(dbsession, transaction_id, posted)
    return dict(row, id=transaction_id)


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


_BILL_BALANCES = Prebuilt(
    lambda dialect: (
        select(_ENTRIES.c.bill_id, func.sum(_ENTRIES.c.amount_minor))
        .join(_ACCOUNTS, _ENTRIES.c.account_id == _ACCOUNTS.c.id)
        .where(
            one_of(_ENTRIES.c.bill_id, "bill_ids", dialect),
            _ACCOUNTS.c.kind == RECEIVABLE,
        )
        .group_by(_ENTRIES.c.bill_id)
    )
)


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
