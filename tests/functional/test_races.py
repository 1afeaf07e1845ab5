"""Races with exactly one winner, on PostgreSQL, over real HTTP (the portal behind waitress,
as in :mod:`tests.functional.test_concurrency`): two requests released together by a barrier.

Two tabs paying one overdue tax bill (late interest is billed on the way), a double submit of
one application draft, and a service cancelling one bill twice through the API each leave one
payment, one bill, one ledger posting; the request that lost is refused with a 409, never a 500.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from sqlalchemy import func, select

from portal.applications.models import Application, ApplicationEvent
from portal.billing import CANCELLED, OPEN, ledger, with_status
from portal.billing.models import Bill, JournalEntry, JournalTransaction, Payment
from portal.services.models import LateInterestCharge
from tests import factories
from tests.functional import test_concurrency as concurrency
from tests.functional.api.conftest import make_client
from tests.functional.applications import conftest as applications
from tests.functional.applications.conftest import VEHICLE
from tests.functional.services.conftest import today
from tests.functional.test_concurrency import TIMEOUT, at_once, new_key, payments_of

# the served portal and Ana's signed-in tab (her session cookie and CSRF token)
portal_url = concurrency.portal_url
tab = concurrency.tab
ana = concurrency.ana
# the applications' fee schedule
fees = applications.fees

ROUNDS = 5
PROBLEM_JSON = "application/problem+json"


def count(dbsession, query) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(query.subquery()))


def postings(dbsession, idempotency: str) -> int:
    return count(
        dbsession, select(JournalTransaction).where(JournalTransaction.idempotency == idempotency)
    )


def assert_ledger_balanced(dbsession):
    dbsession.expire_all()
    rows = dbsession.execute(
        select(JournalEntry.transaction_id, func.sum(JournalEntry.amount_minor))
        .group_by(JournalEntry.transaction_id)
        .having(func.sum(JournalEntry.amount_minor) != 0)
    ).all()
    assert rows == []


def statuses(answers) -> list[int]:
    return sorted(answer.status_code for answer in answers)


# 1. two tabs paying one overdue tax bill -----------------------------------------------------


@pytest.mark.postgresql
def test_two_tabs_paying_one_overdue_tax_bill_bill_the_interest_once_and_pay_once(
    tab, ana, dbsession
):
    """500.00 due 30 days ago at 8 % a year: 3.29 interest is billed with the payment. Both
    tabs bill it at the same moment; one payment of 503.29, one ``INT-`` bill, one 409."""
    due = today() - dt.timedelta(days=30)
    for _round in range(ROUNDS):
        bill = factories.bill(dbsession, ana, amount=500_00, due=due)
        dbsession.commit()

        answers = at_once([lambda bill=bill: tab.pay(bill, new_key()) for _tab in (1, 2)])

        assert statuses(answers) == [303, 409], [(a.status_code, a.text[:300]) for a in answers]
        (payment,) = payments_of(dbsession, bill)
        (interest,) = dbsession.scalars(
            select(Bill).where(Bill.number.startswith(f"INT-{bill.id}-"))
        ).all()
        assert interest.total_minor == 3_29
        charges = dbsession.scalars(
            select(LateInterestCharge).where(LateInterestCharge.tax_bill_id == bill.id)
        ).all()
        assert [charge.bill_id for charge in charges] == [interest.id]
        assert {allocation.bill_id for allocation in payment.allocations} == {
            bill.id,
            interest.id,
        }
        assert payment.amount_minor == 500_00 + 3_29
        assert postings(dbsession, f"bill:{interest.id}:issued") == 1
        # nothing is paid yet: both bills are owed in full
        assert [
            (view.status, view.outstanding.minor)
            for view in with_status(dbsession, [bill, interest])
        ] == [(OPEN, 500_00), (OPEN, 3_29)]

    assert count(dbsession, select(Payment)) == ROUNDS
    assert count(dbsession, select(LateInterestCharge)) == ROUNDS
    assert_ledger_balanced(dbsession)


# 2. double submit of one application draft --------------------------------------------------


def save_draft(tab, values) -> None:
    """Save a vehicle registration draft as the form's "save" button does."""
    answer = requests.post(
        f"{tab.url}/applications/new/vehicle-registration",
        data={**values, "action": "save", "csrf_token": tab.csrf_token},
        headers={"Cookie": f"portal_session={tab.cookie}", "Origin": "https://localhost"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 303, answer.text


def submit_draft(tab, public_id, values):
    return requests.post(
        f"{tab.url}/applications/{public_id}/edit",
        data={**values, "action": "submit", "csrf_token": tab.csrf_token},
        headers={"Cookie": f"portal_session={tab.cookie}", "Origin": "https://localhost"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


@pytest.mark.postgresql
def test_a_double_submit_of_one_draft_issues_one_bill(tab, ana, fees, dbsession):
    for _round in range(ROUNDS):
        save_draft(tab, VEHICLE)
        dbsession.expire_all()
        draft = dbsession.scalars(
            select(Application).where(Application.status == "draft").order_by(Application.id)
        ).one()

        answers = at_once(
            [lambda draft=draft: submit_draft(tab, draft.public_id, VEHICLE) for _tab in (1, 2)]
        )

        # Both at once: one wins, the other is refused. A second that arrives just after the
        # first committed finds the draft submitted and is sent to the application's page, as
        # a double click should be; either way one bill is issued.
        assert statuses(answers) in ([303, 409], [303, 303]), [
            (a.status_code, a.text[:300]) for a in answers
        ]
        for answer in answers:
            if answer.status_code == 303:
                assert answer.headers["Location"].endswith(f"/applications/{draft.public_id}")
        dbsession.expire_all()
        application = dbsession.get(Application, draft.id)
        assert application.status == "awaiting_payment"
        (bill,) = dbsession.scalars(
            select(Bill).where(Bill.number == f"APP-{application.id:08d}")
        ).all()
        assert application.bill_id == bill.id
        assert (bill.total_minor, bill.payer_user_id) == (120_00, ana.id)
        assert postings(dbsession, f"bill:{bill.id}:issued") == 1
        submitted = select(ApplicationEvent).where(
            ApplicationEvent.application_id == application.id,
            ApplicationEvent.to_status == "awaiting_payment",
        )
        assert count(dbsession, submitted) == 1

    assert count(dbsession, select(Application)) == ROUNDS
    assert count(dbsession, select(Bill)) == ROUNDS
    assert_ledger_balanced(dbsession)


# 3. two API cancels of one bill ---------------------------------------------------------------


def cancel(portal_url, client, bill, reason):
    return requests.post(
        f"{portal_url}/api/v1/bills/{bill.public_id}/cancel",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {client.token}"},
        timeout=TIMEOUT,
    )


@pytest.mark.postgresql
def test_two_api_cancels_of_one_bill_post_one_cancellation(
    portal_url, wsgi_app, dbsession, departments
):
    water = make_client(wsgi_app, dbsession, "water")
    payer = factories.user(dbsession)
    for _round in range(ROUNDS):
        bill = factories.bill(dbsession, payer, amount=15_50, service_code="water")
        dbsession.commit()
        reasons = [f"Meter misread ({call})" for call in ("first", "second")]

        answers = at_once(
            [
                lambda reason=reason, bill=bill: cancel(portal_url, water, bill, reason)
                for reason in reasons
            ]
        )

        assert statuses(answers) == [200, 409], [(a.status_code, a.text[:300]) for a in answers]
        won, lost = sorted(answers, key=lambda answer: answer.status_code)
        assert won.json()["status"] == CANCELLED and won.json()["outstanding"] == 0
        assert lost.headers["Content-Type"].startswith(PROBLEM_JSON)
        assert lost.json()["status"] == 409
        dbsession.expire_all()
        cancelled = dbsession.get(Bill, bill.id)
        assert cancelled.cancelled_at is not None
        # what the winner said stands; the loser changed nothing
        assert cancelled.cancel_reason == won.json()["cancel_reason"]
        assert postings(dbsession, f"bill:{bill.id}:cancelled") == 1
        assert ledger.bill_balances(dbsession, [bill.id])[bill.id] == 0

    cancellations = select(JournalTransaction).where(JournalTransaction.kind == "bill_cancelled")
    assert count(dbsession, cancellations) == ROUNDS
    assert_ledger_balanced(dbsession)
