"""Every item that needs a person becomes a case in the transaction that made it, and the
case ends when the feature announces its decision: a payment flagged for a clerk, a
reconciliation mismatch, a bidder's question."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.billing import announce_discrepancies
from portal.billing.payments import flag_for_clerk
from portal.billing.reconciliation import (
    MISSING_IN_PORTAL,
    PAYMENT,
    Discrepancy,
    Reconciliation,
)
from portal.cases.kinds import case_kind, working_calendar
from portal.cases.models import Case
from portal.db import registry_of
from portal.identity.models import Organisation
from portal.money import Money
from portal.procurement import questions
from portal.procurement.models import Tender
from portal.tasks import task_dbsession
from tests import factories


def cases(dbsession, kind=None):
    query = select(Case).order_by(Case.id)
    if kind:
        query = query.where(Case.kind == kind)
    return list(dbsession.scalars(query))


@pytest.fixture
def ana(dbsession):
    return factories.user(dbsession)


@pytest.fixture
def paid(dbsession, ana):
    return factories.payment(dbsession, ana, [factories.bill(dbsession, ana)])


def test_a_payment_flagged_for_a_clerk_opens_one_case_in_its_department(dbsession, paid, ana):
    flag_for_clerk(dbsession, paid, "provider reports a different amount")
    (case,) = cases(dbsession)
    assert (case.kind, case.state, case.department.code) == (
        "payment_attention",
        "received",
        "revenue",
    )
    assert (case.subject_type, case.subject_id, case.person_id) == (
        "payment",
        paid.public_id,
        ana.id,
    )
    assert [(n.public, n.text) for n in case.notes] == [
        (False, "provider reports a different amount")
    ]
    registry = registry_of(dbsession)
    calendar = working_calendar(registry)
    assert calendar.between(case.opened_at, case.due_at) == dt.timedelta(hours=8)
    assert case_kind(registry, case.kind).closed_by_clerk

    flag_for_clerk(dbsession, paid, "refund R refused by the provider")
    assert cases(dbsession) == [case]  # the open case, not a second one
    assert [n.text for n in case.notes][-1] == "refund R refused by the provider"


def test_reconciliation_mismatches_open_cases_once(dbsession, paid):
    day = dt.date(2026, 12, 1)
    found = Reconciliation(day=day, lines=[])
    found.discrepancies = [
        Discrepancy(
            MISSING_IN_PORTAL, PAYMENT, "pay_unknown", "unknown reference", Money(5_00, "EUR")
        ),
        Discrepancy(
            MISSING_IN_PORTAL,
            PAYMENT,
            paid.public_id,
            "settled at the provider, created in the portal",
            Money(12_50, "EUR"),
            Money(12_50, "EUR"),
            payment_public_id=paid.public_id,
        ),
    ]
    announce_discrepancies(dbsession, found)
    announce_discrepancies(dbsession, found)  # the same day reconciled again
    unknown, known = cases(dbsession, "settlement_discrepancy")
    assert unknown.department is None  # no payment: administrators' work
    assert known.department.code == "revenue"
    assert "provider 12.50 EUR, portal 12.50 EUR" in known.notes[0].text
    # a title is a heading: it begins with a capital, whatever the finding's wording
    assert unknown.title == "Payment pay_unknown: unknown reference"


def test_a_question_is_a_case_of_the_tenders_department_until_it_is_answered(wsgi_app, engine):
    """Committed for real: the answer mails the asker once it commits."""
    registry, now = wsgi_app.registry, dt.datetime.now(dt.UTC)
    with task_dbsession(registry) as dbsession:
        ana = factories.user(dbsession)
        tender = factories.tender(dbsession, now=now)
        organisation = Organisation(registration_number="NB-1", name="Northbridge Ltd")
        dbsession.add(organisation)
        dbsession.flush()
        question = questions.ask(
            dbsession, tender, asker=ana, organisation=organisation, text="Night work?", now=now
        )
        (case,) = cases(dbsession)
        assert (case.kind, case.department.code, case.subject_id) == (
            "tender_question",
            "procurement",
            question.public_id,
        )
        assert (case.person_id, case.organisation_id) == (ana.id, organisation.id)
        assert not case_kind(registry, case.kind).party_shown_to_clerks
        # the kind's label says it is a question: the title names only the tender
        assert case.title == f"Tender {tender.reference}"
        reference, public_id = tender.reference, question.public_id

    with task_dbsession(registry) as dbsession:
        tender = dbsession.scalars(select(Tender).where(Tender.reference == reference)).one()
        buyer = factories.user(dbsession, "buyer-bruno")
        questions.answer(dbsession, tender, public_id, answerer=buyer, text="No.", now=now)
        (case,) = cases(dbsession)
        assert (case.state, case.outcome, case.open_key) == ("decided", "answered", None)
