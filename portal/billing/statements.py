"""Importing bank statements: each statement once, each credit once.

A statement (camt.053) or notification (camt.054) is recorded under its bank id and account;
the unique constraint on the pair refuses the same file imported again, also when two
imports of it race (the second waits for the first and then fails on the constraint).

Each credit is recorded once, so a credit reported intraday by a camt.054 and again by the
day's camt.053 is posted once: the later file counts it as already seen. A credit is known by
the bank's reference (AcctSvcrRef) when the file gives it, and always by its content key (what
it says, numbered among the identical credits of its file, see
:meth:`portal.billing.camt.CreditLine.content_key`):

- with the bank's reference, it was seen if a credit with that reference was, or one without
  any reference and of the same content (the other file left the reference out);
- without, it was seen if any credit of the same content was.

Two payers' identical fees without a reference differ by their accounts (and two identical
transfers in one file by their numbers), so neither is taken for the other.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.billing.bank_refunds import complete_from_statement
from portal.billing.camt import (
    CamtError,
    CreditLine,
    Debit,
    DuplicateReference,
    EntryMismatch,
    parse,
)
from portal.billing.matching import match_line, queue_line
from portal.billing.models import BankLine, BankStatement
from portal.i18n import _
from portal.identity.models import Department
from portal.refusals import CONFLICT, INVALID, MALFORMED, Refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Imported:
    """What one statement of an imported file brought."""

    statement: BankStatement
    lines: list[BankLine]
    already_seen: int
    #: debits reversing an earlier credit: reported, for a clerk to look at
    reversed_debits: int = 0
    #: the portal's refunds (bank transfers back) whose debit the statement shows
    refunds_completed: int = 0


def import_file(
    dbsession: Session,
    data: bytes,
    department: Department,
    account_iban: str,
    now: dt.datetime,
    *,
    actor_id: int | None,
    on_line: Callable[[BankLine], None] | None = None,
    on_debits: Callable[[BankStatement, list[Debit]], int] | None = None,
) -> list[Imported]:
    """Record every statement of ``data`` (camt.053 or camt.054 bytes) for ``department``;
    ``on_line`` is called with each new credit line (matching posts it), ``on_debits`` with
    each statement's debits (the refunds the bank carried out are among them), answering how
    many refunds they completed. A file that
    is not a statement, contradicts itself, names another account than ``account_iban`` or
    was imported before is refused whole, nothing recorded."""
    try:
        statements = parse(data)
    except EntryMismatch as error:
        log.warning("bank statement refused: %s", error)
        raise Refusal(
            INVALID,
            _(
                "The statement contradicts itself: the transactions of entry ${entry} add up "
                "to ${transactions}, but the entry says ${amount}. Nothing was imported; ask "
                "the bank for a corrected file.",
                mapping={
                    "entry": error.entry or "?",
                    "transactions": str(error.transactions),
                    "amount": str(error.entry_amount),
                },
            ),
        ) from None
    except DuplicateReference as error:
        log.warning("bank statement refused: %s", error)
        raise Refusal(
            INVALID,
            _(
                "The statement contradicts itself: two credits carry the bank reference "
                "${reference}. Nothing was imported; ask the bank for a corrected file.",
                mapping={"reference": error.reference},
            ),
        ) from None
    except CamtError as error:
        log.warning("bank statement refused: %s", error)
        raise Refusal(
            MALFORMED,
            _(
                "This file is not a bank statement the portal can read (camt.053 or camt.054, "
                "without a DTD)."
            ),
        ) from None
    results = []
    for statement in statements:
        if statement.iban != account_iban:
            log.warning("bank statement %s of another account refused", statement.statement_id)
            raise Refusal(INVALID, _("This statement is of another account than the portal's."))
        known = dbsession.scalar(
            select(BankStatement.id).where(
                BankStatement.account_iban == statement.iban,
                BankStatement.kind == statement.kind,
                BankStatement.statement_id == statement.statement_id,
            )
        )
        if known is not None:
            raise Refusal(CONFLICT, _("This statement was already imported."))
        record = BankStatement(
            department_id=department.id,
            kind=statement.kind,
            statement_id=statement.statement_id,
            account_iban=statement.iban,
            imported_at=now,
            imported_by_id=actor_id,
            credits=len(statement.credits),
            new_credits=0,
        )
        dbsession.add(record)
        _flush(dbsession)
        new = _new_lines(dbsession, record, statement.iban, statement.credits)
        lines = [line for line, _credit in new]
        record.new_credits = len(lines)
        _flush(dbsession)
        for line, credit in new:
            # a credit reversing an earlier debit is money come back, not a payer's payment:
            # never matched automatically, a clerk decides it
            if credit.reversal:
                log.warning("bank line %s reverses a debit: to the queue", line.public_id)
                queue_line(dbsession, line)
            elif on_line is not None:
                on_line(line)
        completed = 0
        if on_debits is not None and statement.debits:
            completed = on_debits(record, statement.debits)
        if statement.reversed_debits:
            log.warning(
                "bank statement %s: %d debits reverse earlier credits, check their bills",
                record.public_id,
                statement.reversed_debits,
            )
        log.info(
            "bank statement %s (%s): %d credits, %d new",
            record.public_id,
            record.kind,
            record.credits,
            record.new_credits,
        )
        results.append(
            Imported(
                record,
                lines,
                record.credits - record.new_credits,
                statement.reversed_debits,
                completed,
            )
        )
    return results


def _flush(dbsession: Session) -> None:
    """Flush; the unique constraints catching a concurrent import of the same statement or
    credit become a refusal (the caller's transaction is rolled back)."""
    try:
        dbsession.flush()
    except IntegrityError:
        log.warning("bank statement imported concurrently: refused")
        raise Refusal(
            CONFLICT, _("This statement is being imported at the same time. Try again.")
        ) from None


def _new_lines(
    dbsession: Session, statement: BankStatement, iban: str, credits: list[CreditLine]
) -> list[tuple[BankLine, CreditLine]]:
    """The credits of ``credits`` not seen before (see the module's docstring), recorded
    as lines of ``statement``, each with the credit it records."""
    occurrences: Counter[str] = Counter()
    keyed = []
    for credit in credits:
        first = credit.content_key(iban, 0)
        occurrences[first] += 1
        keyed.append((credit.bank_key(iban), credit.content_key(iban, occurrences[first]), credit))
    bank_keys = [bank for bank, _content, _credit in keyed if bank is not None]
    content_keys = [content for _bank, content, _credit in keyed]
    seen_bank = set(
        dbsession.scalars(select(BankLine.dedupe_key).where(BankLine.dedupe_key.in_(bank_keys)))
    )
    rows = dbsession.execute(
        select(BankLine.content_key, BankLine.dedupe_key).where(
            BankLine.content_key.in_(content_keys)
        )
    ).all()
    seen_content = {content for content, _bank in rows}
    unreferenced = {content for content, bank in rows if bank is None}
    new = []
    for bank, content, credit in keyed:
        if bank is not None:
            # seen by its reference, or without one in the other file
            if bank in seen_bank or content in unreferenced:
                continue
        elif content in seen_content:
            continue
        line = BankLine(
            dedupe_key=bank,
            content_key=content,
            statement_id=statement.id,
            department_id=statement.department_id,
            amount_minor=credit.amount.minor,
            currency=credit.amount.currency,
            booked_on=credit.booked_on,
            servicer_reference=credit.servicer_reference,
            end_to_end_id=credit.end_to_end_id,
            creditor_reference=credit.creditor_reference,
            remittance=credit.remittance,
            debtor_name=credit.debtor_name,
            debtor_iban=credit.debtor_iban,
            status="unmatched",
        )
        dbsession.add(line)
        new.append((line, credit))
    return new


def lines_booked(dbsession: Session, day: dt.date, departments: frozenset[int] | None):
    """The bank credits booked on ``day`` (of ``departments``, or all), with their matches,
    for reconciliation beside the card provider's settlement."""
    query = select(BankLine).where(BankLine.booked_on == day)
    if departments is not None:
        query = query.where(BankLine.department_id.in_(departments))
    return list(
        dbsession.scalars(query.options(selectinload(BankLine.matches)).order_by(BankLine.id))
    )


def import_and_match(
    dbsession: Session,
    data: bytes,
    department: Department,
    account_iban: str,
    now: dt.datetime,
    *,
    actor_id: int | None,
) -> list[Imported]:
    """:func:`import_file`, each new credit matched to bills and posted at once, and the
    refunds whose debit it shows completed (the clerks' page, the API and the demo data
    import statements this way)."""
    return import_file(
        dbsession,
        data,
        department,
        account_iban,
        now,
        actor_id=actor_id,
        on_line=lambda line: match_line(dbsession, line, now),
        on_debits=lambda record, debits: complete_from_statement(
            dbsession, debits, record.statement_id, now
        ),
    )
