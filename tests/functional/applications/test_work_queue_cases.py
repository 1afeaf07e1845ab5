"""An application becomes a case in the registry's work queue when its fee is paid, in the
payment's own transaction, and the case ends when the clerk decides the application."""

from __future__ import annotations

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.cases.models import Case
from tests.functional.applications.conftest import post


def the_case(dbsession, public_id) -> Case:
    dbsession.expire_all()
    return dbsession.scalars(select(Case).where(Case.subject_id == public_id)).one()


def test_a_paid_application_is_a_case_until_the_clerk_decides_it(
    citizen, clerk, paid_application, dbsession
):
    case = the_case(dbsession, paid_application)
    assert (case.kind, case.state, case.department.code) == ("application", "received", "registry")
    assert case.person.name_id == "citizen-ana"
    assert case.due_at > case.opened_at

    queue = clerk.get("/backoffice/cases")
    assert case.public_id in queue.text
    page = clerk.get(f"/backoffice/cases/{case.public_id}")
    decide = page.click(linkid="decision-link")
    assert decide.request.path == f"/backoffice/applications/{paid_application}"
    post(clerk, f"/backoffice/applications/{paid_application}/approve", {"note": ""})

    case = the_case(dbsession, paid_application)
    assert (case.state, case.outcome, case.open_key) == ("decided", "approved", None)
    assert case.transitions[-1].actor.name_id == "clerk-dan"
    decided = dbsession.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "case.decided", AuditEntry.object_id == case.public_id
        )
    ).one()
    assert decided.actor_id == case.transitions[-1].actor_id
    assert decided.details["outcome"] == "approved"
    assert case.public_id not in clerk.get("/backoffice/cases").text  # open ones by default
    page = citizen.get(f"/cases/{case.public_id}")
    assert "Decision made" in page.text
    assert page.html.find(id="case-decision").text == "Approved"


def test_a_rejected_application_ends_its_case_too(clerk, paid_application, dbsession):
    post(clerk, f"/backoffice/applications/{paid_application}/reject", {"reason": "Wrong VIN"})
    case = the_case(dbsession, paid_application)
    assert (case.state, case.outcome) == ("decided", "rejected")


def test_a_cancelled_application_ends_its_case_and_its_person_reads_the_decision(
    citizen, clerk, paid_application, dbsession
):
    post(
        clerk,
        f"/backoffice/applications/{paid_application}/cancel",
        {"cancel_reason": "Applied twice"},
    )
    case = the_case(dbsession, paid_application)
    assert (case.state, case.outcome, case.open_key) == ("decided", "cancelled", None)
    assert case.transitions[-1].actor.name_id == "clerk-dan"
    assert case.public_id not in clerk.get("/backoffice/cases").text
    page = citizen.get(f"/cases/{case.public_id}")
    assert page.html.find(id="case-status").text == "Decision made"
    assert page.html.find(id="case-decision").text == "Cancelled"
