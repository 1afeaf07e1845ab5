"""The demo's bank statement: a camt.053 of the authority's account, imported by the revenue
office as a clerk would upload it, paying Ana's revenue bills: the water bill fully (by its
RF reference), the waste bill partly (by the bill number in the remittance text), the second
property tax instalment more than owed (the surplus stays on it as her credit, which a revenue
clerk refunds to the account it came from), and one credit that names no bill, waiting for a
revenue clerk in the work queue. (A statement pays only bills of the
department that imports it.)

Statements to upload by hand (a camt.053 and a camt.054 of the same day) are in
``samples/camt/`` (see the README)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.billing import import_bank_statement
from portal.billing.models import BankStatement, Bill
from portal.identity.models import Department
from portal.scripts.camt_files import Credit, camt

log = logging.getLogger(__name__)

STATEMENT_ID = "DEMO-STMT-001"
PAYER = "citizen-ana"
#: Ana's second property tax instalment (€206.30), paid €3.00 over
OVERPAID = "PT-ANA-0001-2"
#: Ana's account at her bank, where a refund of her transfers goes
ANA_IBAN = "SI56191000000123438"


def statement(dbsession, iban: str, booked: str) -> bytes | None:
    """The demo's camt.053, quoting Ana's demo bills; None before they exist."""
    numbers = [f"W2610-{PAYER}", f"G2610-{PAYER}", OVERPAID]
    bills = {
        bill.number: bill
        for bill in dbsession.scalars(select(Bill).where(Bill.number.in_(numbers)))
    }
    if len(bills) != len(numbers):
        return None
    full, partly, over = (bills[number] for number in numbers)
    return camt(
        "053",
        STATEMENT_ID,
        [
            Credit(
                "21.00",
                reference=full.reference or "",
                servicer_reference="DEMO-0001",
                booked=booked,
                debtor_iban=ANA_IBAN,
                name="Ana Novak",
            ),
            Credit(
                "5.00",
                text=f"Waste bill {partly.number}",
                servicer_reference="DEMO-0002",
                booked=booked,
                debtor_iban=ANA_IBAN,
                name="Ana Novak",
            ),
            Credit(
                "209.30",
                reference=over.reference or "",
                servicer_reference="DEMO-0003",
                booked=booked,
                debtor_iban=ANA_IBAN,
                name="Ana Novak",
            ),
            Credit("15.00", text="For my taxes", servicer_reference="DEMO-0004", booked=booked),
        ],
        iban=iban,
        created=f"{booked}T18:00:00",
    )


def load(dbsession, registry, clock) -> None:
    """Import the demo statement once (again: it is already there)."""
    account = registry.get("transfer_account")
    if account is None:
        return
    known = dbsession.scalar(
        select(BankStatement.id).where(
            BankStatement.statement_id == STATEMENT_ID, BankStatement.account_iban == account.iban
        )
    )
    if known is not None:
        return
    data = statement(dbsession, account.iban, clock.today().isoformat())
    if data is None:
        return
    revenue = dbsession.scalar(select(Department).where(Department.code == "revenue"))
    import_bank_statement(dbsession, data, revenue, account.iban, clock.now(), actor_id=None)
    log.info("demo bank statement imported")
