"""Importing bank statements: each statement once, each credit once.

A statement (camt.053) or notification (camt.054) is recorded under its bank id and account;
the unique constraint on the pair refuses the same file imported again, also when two
imports of it race (the second waits for the first and then fails on the constraint). Each
credit is recorded under its dedupe key (:meth:`portal.billing.camt.CreditLine.dedupe_key`),
unique too, so a credit reported intraday by a camt.054 and again by the day's camt.053 is
recorded, and posted, once: the later file counts it as already seen.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.billing.camt import CamtError, CreditLine, parse
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


def import_file(
    dbsession: Session,
    data: bytes,
    department: Department,
    account_iban: str,
    now: dt.datetime,
    *,
    actor_id: int | None,
    on_line: Callable[[BankLine], None] | None = None,
) -> list[Imported]:
    """Record every statement of ``data`` (camt.053 or camt.054 bytes) for ``department``;
    ``on_line`` is called with each new credit line (matching posts it). A file that is not
    a statement, names another account than ``account_iban`` or was imported before is
    refused whole, nothing recorded."""
    try:
        statements = parse(data)
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
        lines = _new_lines(dbsession, record, statement.iban, statement.credits)
        record.new_credits = len(lines)
        _flush(dbsession)
        # a credit reversing an earlier debit is money come back, not a payer's payment:
        # never matched automatically, a clerk decides it
        reversals = {
            credit.dedupe_key(statement.iban) for credit in statement.credits if credit.reversal
        }
        for line in lines:
            if line.dedupe_key in reversals:
                log.warning("bank line %s reverses a debit: to the queue", line.public_id)
                queue_line(dbsession, line)
            elif on_line is not None:
                on_line(line)
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
            Imported(record, lines, record.credits - record.new_credits, statement.reversed_debits)
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
) -> list[BankLine]:
    keyed = {credit.dedupe_key(iban): credit for credit in credits}
    seen = set(dbsession.scalars(select(BankLine.dedupe_key).where(BankLine.dedupe_key.in_(keyed))))
    lines = []
    for key, credit in keyed.items():
        if key in seen:
            continue
        line = BankLine(
            dedupe_key=key,
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
            status="unmatched",
        )
        dbsession.add(line)
        lines.append(line)
    return lines


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
    """:func:`import_file`, each new credit matched to bills and posted at once (the clerks'
    page, the API and the demo data import statements this way)."""
    return import_file(
        dbsession,
        data,
        department,
        account_iban,
        now,
        actor_id=actor_id,
        on_line=lambda line: match_line(dbsession, line, now),
    )
