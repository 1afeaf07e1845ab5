"""The four-eyes mechanism on a real database: the threshold per department, the rules a
decider must meet, and the database refusing a decision by the person who asked."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.billing import approvals
from portal.billing.models import ApprovalRequest
from portal.identity.models import Department
from portal.money import Money
from portal.refusals import Refusal
from portal.settings import SettingsError
from tests import factories

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
SETTINGS = {
    "billing.four_eyes.threshold": "EUR 500.00",
    "billing.four_eyes.threshold.revenue": "eur 100.00",
}


def test_the_threshold_is_the_departments_else_the_default_else_the_portals():
    revenue, registry = Department(code="revenue"), Department(code="registry")
    assert approvals.threshold(SETTINGS, "revenue") == Money(100_00, "EUR")
    assert approvals.threshold(SETTINGS, "registry") == Money(500_00, "EUR")
    assert approvals.threshold({}, "revenue") == approvals.DEFAULT_THRESHOLD
    assert not approvals.needs_approval(SETTINGS, revenue, Money(100_00, "EUR"))
    assert approvals.needs_approval(SETTINGS, revenue, Money(100_01, "EUR"))
    assert not approvals.needs_approval(SETTINGS, registry, Money(100_01, "EUR"))
    # another currency cannot be compared: a second clerk looks at it
    assert approvals.needs_approval(SETTINGS, revenue, Money(1, "USD"))


@pytest.mark.parametrize("text", ["100", "EUR", "EUR ten", "EUR 1.001", "XXY 5"])
def test_a_threshold_that_is_not_an_amount_stops_the_start(text):
    with pytest.raises(SettingsError):
        approvals.check_thresholds({"billing.four_eyes.threshold.revenue": text})


@pytest.fixture
def request_of_clara(dbsession):
    clara = factories.user(dbsession, "clerk-clara")
    revenue = factories.department(dbsession)
    clara.departments.append(revenue)
    approval = ApprovalRequest(
        kind="write_off",
        department=revenue,
        subject="a" * 32,
        description="Write-off of bill property-tax/B-1",
        amount_minor=150_00,
        currency="EUR",
        reason="Struck off",
        requested_by_id=clara.id,
        requested_at=NOW,
        status=approvals.AWAITING,
    )
    dbsession.add(approval)
    dbsession.flush()
    return approval, clara


def test_the_requester_another_department_and_nobody_are_refused(dbsession, request_of_clara):
    approval, clara = request_of_clara
    dan = factories.user(dbsession, "clerk-dan")
    dan.departments.append(factories.department(dbsession, "registry", "Registry"))
    dbsession.flush()
    for decider, message in [
        (clara, "You asked for this yourself"),
        (dan, "Only a clerk of ${department}"),
        (None, "Only a clerk signed in as themselves"),
    ]:
        with pytest.raises(Refusal) as refused:
            approvals.check_decider(approval, decider)
        assert str(refused.value.message).startswith(message)


def test_the_database_refuses_a_decision_by_the_person_who_asked(dbsession, request_of_clara):
    approval, clara = request_of_clara
    with pytest.raises(IntegrityError, match="four_eyes"):
        dbsession.execute(
            update(ApprovalRequest)
            .where(ApprovalRequest.id == approval.id)
            .values(status=approvals.APPROVED, decided_by_id=clara.id, decided_at=NOW)
        )


def test_the_database_refuses_a_second_open_request_about_the_same_thing(
    dbsession, request_of_clara
):
    approval, clara = request_of_clara
    dbsession.add(
        ApprovalRequest(
            kind=approval.kind,
            department_id=approval.department_id,
            subject=approval.subject,
            description="again",
            amount_minor=1,
            currency="EUR",
            reason="again",
            requested_by_id=clara.id,
            requested_at=NOW,
            status=approvals.AWAITING,
        )
    )
    with pytest.raises(IntegrityError):
        dbsession.flush()
