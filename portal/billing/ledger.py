"""The double-entry ledger: every money movement is one balanced, append-only transaction.

Debits are positive and credits negative; a transaction's entries sum to zero per currency.
Entries are never changed or deleted: a correction is a reversing transaction. PostgreSQL
enforces this with triggers (see the migration); the ORM guard below enforces it everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portal.billing.models import Bill, JournalEntry, JournalTransaction, LedgerAccount
from portal.money import Money

RECEIVABLE = "receivable"
REVENUE = "revenue"
CLEARING = "clearing"
#: money held for payers (deposits) until it is given back or forfeited
LIABILITY = "liability"


class LedgerError(RuntimeError):
    """An attempt to break the ledger's rules: unbalanced, or changing what was posted."""


class AlreadyPosted(LedgerError):
    """This business event has been posted before; nothing was added."""


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


def _account(dbsession: Session, code: str, kind: str) -> LedgerAccount:
    account = dbsession.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if account is None:
        try:
            with dbsession.begin_nested():
                account = LedgerAccount(code=code, kind=kind)
                dbsession.add(account)
        except IntegrityError:  # created meanwhile by a concurrent transaction
            account = dbsession.scalars(
                select(LedgerAccount).where(LedgerAccount.code == code)
            ).one()
    return account


def post(
    dbsession: Session,
    kind: str,
    idempotency: str,
    description: str,
    lines: list[Line],
    reverses: JournalTransaction | None = None,
) -> JournalTransaction:
    """Post one balanced transaction; :class:`AlreadyPosted` if ``idempotency`` was used."""
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.amount.currency] += line.amount.minor
    if not lines or any(totals.values()):
        raise LedgerError(f"unbalanced transaction {idempotency}: {dict(totals)}")
    if (
        dbsession.scalar(
            select(JournalTransaction.id).where(JournalTransaction.idempotency == idempotency)
        )
        is not None
    ):
        raise AlreadyPosted(idempotency)
    transaction = JournalTransaction(
        kind=kind,
        idempotency=idempotency,
        description=description,
        reverses_id=reverses.id if reverses else None,
    )
    try:
        with dbsession.begin_nested():
            dbsession.add(transaction)
            dbsession.flush()
    except IntegrityError as error:
        raise AlreadyPosted(idempotency) from error
    for line in lines:
        if line.amount.minor == 0:
            continue
        account = _account(dbsession, line.account, line.kind)
        dbsession.add(
            JournalEntry(
                transaction_id=transaction.id,
                account_id=account.id,
                bill_id=line.bill_id,
                amount_minor=line.amount.minor,
                currency=line.amount.currency,
            )
        )
    dbsession.flush()
    return transaction


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
    rows = dbsession.execute(
        select(JournalEntry.bill_id, func.sum(JournalEntry.amount_minor))
        .join(LedgerAccount, JournalEntry.account_id == LedgerAccount.id)
        .where(JournalEntry.bill_id.in_(bill_ids), LedgerAccount.kind == RECEIVABLE)
        .group_by(JournalEntry.bill_id)
    )
    balances = dict.fromkeys(bill_ids, 0)
    balances.update({bill_id: int(total) for bill_id, total in rows if bill_id is not None})
    return balances


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
