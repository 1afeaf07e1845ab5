"""The same bank statement imported twice at once on PostgreSQL (two clerks, or a clerk and
the integration): the second import waits on the first's unique statement row and is refused,
so each credit is posted once. A camt.054 and the camt.053 repeating its credit, imported at
once, post that credit once too."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.billing.matching import match_line
from portal.billing.models import BankLine, BankStatement, JournalTransaction
from portal.billing.statements import import_file
from portal.clock import clock
from portal.identity.models import Department
from portal.refusals import CONFLICT, Refusal
from portal.tasks import task_dbsession
from tests import factories
from tests.bank_files import Credit, camt
from tests.conftest import TRANSFER_IBAN

pytestmark = pytest.mark.postgresql

TIMEOUT = 30
ROUNDS = 4


def importer(wsgi_app, data: bytes, barrier: threading.Barrier):
    """One import in its own transaction (as a request or a task has), released by
    ``barrier``; its outcome: "imported" or the refusal's kind."""

    def run():
        try:
            with task_dbsession(wsgi_app.registry) as session:
                department = session.scalars(
                    select(Department).where(Department.code == "revenue")
                ).one()
                now = clock(wsgi_app.registry).now()
                barrier.wait(timeout=TIMEOUT)
                import_file(
                    session,
                    data,
                    department,
                    TRANSFER_IBAN,
                    now,
                    actor_id=None,
                    on_line=lambda line: match_line(session, line, now),
                )
            return "imported"
        except Refusal as refused:
            return refused.kind

    return run


def race(wsgi_app, first: bytes, second: bytes) -> list[str]:
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(importer(wsgi_app, data, barrier)) for data in (first, second)]
        return sorted(future.result(timeout=TIMEOUT * 2) for future in futures)


def postings(dbsession) -> int:
    dbsession.expire_all()
    return dbsession.scalar(
        select(func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.idempotency.like("bank_line:%"))
    )


def test_the_same_file_imported_twice_at_once_posts_once(wsgi_app, dbsession, departments):
    payer = factories.user(dbsession, "citizen-ana")
    bills = [factories.bill(dbsession, payer, amount=10_00) for _ in range(ROUNDS)]
    dbsession.commit()
    for round_, bill in enumerate(bills):
        data = camt(
            "053",
            f"RACE-{round_}",
            [
                Credit("10.00", reference=bill.reference, servicer_reference=f"RR{round_}"),
                Credit("2.00", text="nothing", servicer_reference=f"RN{round_}"),
            ],
        )
        assert race(wsgi_app, data, data) == [CONFLICT, "imported"]
    assert postings(dbsession) == ROUNDS
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == ROUNDS
    assert dbsession.scalar(select(func.count()).select_from(BankLine)) == 2 * ROUNDS


def test_an_intraday_notice_and_its_statement_at_once_post_the_credit_once(
    wsgi_app, dbsession, departments
):
    payer = factories.user(dbsession, "citizen-ana")
    bill = factories.bill(dbsession, payer, amount=10_00)
    dbsession.commit()
    credit = Credit("10.00", reference=bill.reference, servicer_reference="SAME-1")
    outcomes = race(
        wsgi_app, camt("054", "NTF-R", [credit], version="08"), camt("053", "STMT-R", [credit])
    )
    # either both import (the later one counts the credit as seen) or the later is refused
    assert outcomes in (["imported", "imported"], [CONFLICT, "imported"])
    assert postings(dbsession) == 1


def test_a_credit_returned_while_another_clerk_assigns_it_is_not_posted(
    signed_in, engine, dbsession
):
    """Clara assigns a queued credit; between her page's check and her posting, another clerk
    returns it (committed from another connection). Her assignment is refused: the credit is
    never both returned and posted."""
    from sqlalchemy import event, update
    from sqlalchemy.engine import Engine

    from portal.billing.bills import with_status
    from tests.functional.cases.conftest import post

    clerk = signed_in("clerk-clara")
    payer = factories.user(dbsession, "citizen-ana")
    bill = factories.bill(dbsession, payer, amount=10_00)
    dbsession.commit()
    url = "/backoffice/departments/revenue/bank-statements"
    data = camt("053", "DECIDE-1", [Credit("10.00", text="?", servicer_reference="D1")])
    post(clerk, url, upload_files=[("file", "s.xml", data)], status=303)
    line = dbsession.scalars(select(BankLine)).one()
    returned = []

    def other_clerk_returns(conn, _cursor, statement, *_args):
        if conn.engine is not engine and not returned and "FROM bill" in statement:
            with engine.begin() as other:
                other.execute(update(BankLine).values(status="returned"))
            returned.append(True)

    event.listen(Engine, "before_cursor_execute", other_clerk_returns)
    try:
        refused = post(
            clerk,
            f"/backoffice/bank-lines/{line.public_id}",
            {"action": "assign", "bills": bill.number},
            status=409,
        )
    finally:
        event.remove(Engine, "before_cursor_execute", other_clerk_returns)
    assert returned and "already decided" in refused.text
    assert postings(dbsession) == 0
    assert with_status(dbsession, [bill])[0].status != "paid"
