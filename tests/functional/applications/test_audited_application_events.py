"""What the audit log holds of an application's life: the fee's payment, a clerk revealing the
applicant's national identifier, the decision, and the refund a rejection makes, each by
whom and about whom; and the chain still verifies."""

from __future__ import annotations

from sqlalchemy import select

from portal.applications.models import Application
from portal.audit import verify
from portal.audit.models import AuditEntry
from portal.billing.models import Payment
from portal.identity.models import User
from tests.functional.applications.conftest import apply, pay, post


def audited(dbsession, *actions: str) -> list[AuditEntry]:
    dbsession.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if actions:
        query = query.where(AuditEntry.action.in_(actions))
    return list(dbsession.scalars(query))


def person(dbsession, name_id: str) -> int:
    return dbsession.scalar(select(User.id).where(User.name_id == name_id))


def test_a_paid_fee_and_a_revealed_identifier_are_audited(paid_application, clerk, dbsession):
    application = dbsession.scalar(
        select(Application).where(Application.public_id == paid_application)
    )
    payment = dbsession.scalars(select(Payment)).one()
    (paid,) = audited(dbsession, "payment.succeeded")
    assert (paid.object_type, paid.object_id) == ("payment", payment.public_id)
    assert paid.subject_id == application.applicant_id
    assert paid.details["from"] in ("created", "started")

    review = clerk.get(f"/backoffice/applications/{paid_application}")
    review.forms["reveal-form"].submit(status=200)

    (viewed,) = audited(dbsession, "person.national_id_viewed")
    assert viewed.actor_id == person(dbsession, "clerk-dan")
    assert viewed.subject_id == application.applicant_id
    assert (viewed.object_type, viewed.object_id) == ("application", paid_application)
    assert viewed.personal == {"name": "Ana Novak"}
    assert "19800101" not in str(viewed.details) + str(viewed.personal)
    assert verify(dbsession).ok


def test_a_refused_reveal_is_not_audited(paid_application, clerk, dbsession):
    url = f"/backoffice/applications/{paid_application}/national-id"
    post(clerk, url, status=400, with_token=False)

    assert audited(dbsession, "person.national_id_viewed") == []


def test_an_approval_is_audited_with_the_clerk_and_applicant(paid_application, clerk, dbsession):
    post(clerk, f"/backoffice/applications/{paid_application}/approve", {"note": "All in order"})

    (approved,) = audited(dbsession, "application.approved")
    assert approved.actor_id == person(dbsession, "clerk-dan")
    assert approved.subject_id == person(dbsession, "citizen-ana")
    assert approved.object_id == paid_application
    assert approved.personal == {"reason": "All in order"}
    assert verify(dbsession).ok


def test_a_rejection_and_its_refund_are_audited(citizen, clerk, sandbox, dbsession):
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)

    post(clerk, f"/backoffice/applications/{public_id}/reject", {"reason": "Wrong VIN"})

    entries = audited(
        dbsession,
        "application.rejected",
        "refund.requested",
        "refund.succeeded",
        "payment.refunded",
    )
    # the refund is asked for first, as a cancellation's is: above the threshold it would
    # hold the rejection for a second clerk
    assert [e.action for e in entries] == [
        "refund.requested",
        "application.rejected",
        "refund.succeeded",
        "payment.refunded",
    ]
    requested, rejected, succeeded, refunded = entries
    clerk_id, ana_id = person(dbsession, "clerk-dan"), person(dbsession, "citizen-ana")
    assert (rejected.actor_id, rejected.subject_id) == (clerk_id, ana_id)
    assert (requested.actor_id, requested.subject_id) == (clerk_id, ana_id)
    assert requested.details["amount_minor"] == 120_00
    assert requested.personal == {"reason": "Application rejected: Wrong VIN"}
    assert succeeded.object_id == requested.object_id
    assert refunded.details["from"] == "succeeded"
    assert verify(dbsession).ok
