"""A clerk cancels or rejects a paid application and its fee is refunded; above the
department's four-eyes threshold only once a second clerk of the department approves, and until
then the provider has refunded nothing and the application stays in the queue.

The vehicle registration is the revenue office's here, whose two clerks (Clara and Eva) are
personas of the development IdP."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.applications.events import (
    CancellationApprovalDecided,
    CancellationApprovalRequested,
    RejectionApprovalDecided,
    RejectionApprovalRequested,
)
from portal.billing.models import ApprovalRequest, Payment
from portal.cases.models import Case
from portal.money import Money
from tests import factories
from tests.functional.applications.conftest import apply, pay, post, the_application
from tests.functional.approval_events import heard  # noqa: F401

REASON = "Applied twice for the same vehicle"


@pytest.fixture
def paid_in_revenue(browser, fees, sandbox, dbsession):
    factories.service(dbsession, "vehicle-registration", "Vehicle registration", "revenue")
    dbsession.commit()
    citizen = browser("citizen-ana")
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    assert the_application(dbsession, public_id).status == "in_queue"
    return public_id


def refunded_at_provider(dbsession, provider) -> Money:
    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment)).one()
    return provider.query_payment(payment.public_id).refunded


def test_above_the_threshold_a_second_clerk_approves_the_cancellation(
    wsgi_app,
    monkeypatch,
    browser,
    paid_in_revenue,
    dbsession,
    heard,  # noqa: F811
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 100.00"
    )
    provider = wsgi_app.registry["payment_provider"]
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    form = clara.get(f"/backoffice/applications/{public_id}").forms["cancel-form"]
    form["cancel_reason"] = REASON
    page = form.submit(status=303).follow()
    assert "A second clerk of the department must approve it" in page.text
    assert page.html.find(id="cancellation-pending") is not None
    assert "approve-form" not in page.forms  # not decided while the cancellation waits

    application = the_application(dbsession, public_id)
    assert application.status == "in_queue"
    assert application.refund.status == "awaiting_approval"
    assert refunded_at_provider(dbsession, provider) == Money(0, "EUR")
    citizen_page = browser("citizen-ana").get(f"/applications/{public_id}")
    assert "being sent" not in citizen_page.text  # nothing is on its way yet
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    assert (approval.kind, approval.amount_minor) == ("application_cancellation", 120_00)
    post(clara, f"/backoffice/approvals/{approval.public_id}/approve", status=403)
    assert refunded_at_provider(dbsession, provider) == Money(0, "EUR")

    eva = browser("clerk-eva")
    review = eva.get(f"/backoffice/approvals/{approval.public_id}")
    assert review.click(linkid="subject-link").request.path == (
        f"/backoffice/applications/{public_id}"
    )
    review.forms["approve-form"].submit(status=303)
    application = the_application(dbsession, public_id)
    assert application.status == "cancelled"
    assert application.refund.status == "succeeded"
    last = application.events[-1]
    assert (last.to_status, last.note) == ("cancelled", f"Application cancelled: {REASON}")
    dbsession.refresh(approval)
    assert last.actor_id == approval.decided_by_id != approval.requested_by_id
    assert refunded_at_provider(dbsession, provider) == Money(120_00, "EUR")
    assert heard == [
        (CancellationApprovalRequested, "application_cancellation", "awaiting", public_id),
        (CancellationApprovalDecided, "application_cancellation", "approved", public_id),
    ]
    mine = browser("citizen-ana").get(f"/applications/{public_id}")
    assert "Your application was cancelled" in mine.html.find(id="cancelled").text


def test_a_rejected_cancellation_leaves_the_application_in_the_queue(
    wsgi_app,
    monkeypatch,
    browser,
    paid_in_revenue,
    dbsession,
    heard,  # noqa: F811
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 100.00"
    )
    provider = wsgi_app.registry["payment_provider"]
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    post(clara, f"/backoffice/applications/{public_id}/cancel", {"cancel_reason": REASON})
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    # while it waits, the application cannot be decided either
    refused = post(clara, f"/backoffice/applications/{public_id}/approve", status=409)
    assert "waiting for a second clerk's approval" in refused.html.text
    eva = browser("clerk-eva")
    post(eva, f"/backoffice/approvals/{approval.public_id}/reject", {"note": "Not a duplicate"})

    application = the_application(dbsession, public_id)
    assert (application.status, application.refund) == ("in_queue", None)
    assert refunded_at_provider(dbsession, provider) == Money(0, "EUR")
    assert eva.get(f"/backoffice/approvals/{approval.public_id}").html.find(id="status")
    assert [event[:3] for event in heard] == [
        (CancellationApprovalRequested, "application_cancellation", "awaiting"),
        (CancellationApprovalDecided, "application_cancellation", "rejected"),
    ]
    # a clerk may now decide it, or ask again
    assert "approve-form" in clara.get(f"/backoffice/applications/{public_id}").forms


def test_within_the_threshold_one_clerk_cancels_and_refunds(
    wsgi_app, browser, paid_in_revenue, dbsession
):
    provider = wsgi_app.registry["payment_provider"]
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    form = clara.get(f"/backoffice/applications/{public_id}").forms["cancel-form"]
    form["cancel_reason"] = REASON
    page = form.submit(status=303).follow()
    assert "Cancelled. The fee is refunded to the applicant." in page.text
    application = the_application(dbsession, public_id)
    assert application.status == "cancelled"
    assert application.decision_reason == REASON
    assert refunded_at_provider(dbsession, provider) == Money(120_00, "EUR")
    assert dbsession.scalars(select(ApprovalRequest)).all() == []
    # the fee's bill is cancelled once the refund is confirmed: nothing left owed
    assert application.bill.cancelled_at is not None


def test_above_the_threshold_a_rejection_waits_for_a_second_clerk_before_it_refunds(
    wsgi_app,
    monkeypatch,
    browser,
    paid_in_revenue,
    dbsession,
    heard,  # noqa: F811
):
    """Rejecting refunds the fee as cancelling does, so it needs the same second clerk: the
    rejection is held, the applicant still sees the application in the queue with no refund
    promised, and only the approval rejects it and sends the refund."""
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 100.00"
    )
    provider = wsgi_app.registry["payment_provider"]
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    form = clara.get(f"/backoffice/applications/{public_id}").forms["reject-form"]
    form["reason"] = "Wrong VIN"
    page = form.submit(status=303).follow()
    assert "Rejection asked for. A second clerk of the department must approve it" in page.text
    assert page.html.find(id="rejection-pending") is not None
    assert "approve-form" not in page.forms and "cancel-form" not in page.forms

    application = the_application(dbsession, public_id)
    assert (application.status, application.refund.status) == ("in_queue", "awaiting_approval")
    assert refunded_at_provider(dbsession, provider) == Money(0, "EUR")
    mine = browser("citizen-ana").get(f"/applications/{public_id}")
    assert "Your application was rejected" not in mine.text
    assert "is refunded to the card" not in mine.text  # nothing is on its way yet
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    assert (approval.kind, approval.amount_minor) == ("application_rejection", 120_00)
    url = f"/backoffice/applications/{public_id}/cancel"
    refused = post(clara, url, {"cancel_reason": "x"}, status=409)
    assert "A rejection of this application is waiting" in refused.text
    post(clara, f"/backoffice/approvals/{approval.public_id}/approve", status=403)

    eva = browser("clerk-eva")
    review = eva.get(f"/backoffice/approvals/{approval.public_id}")
    assert review.click(linkid="subject-link").request.path == (
        f"/backoffice/applications/{public_id}"
    )
    review.forms["approve-form"].submit(status=303)
    application = the_application(dbsession, public_id)
    assert (application.status, application.decision_reason) == ("rejected", "Wrong VIN")
    assert application.refund.status == "succeeded"
    assert refunded_at_provider(dbsession, provider) == Money(120_00, "EUR")
    assert [event[:3] for event in heard] == [
        (RejectionApprovalRequested, "application_rejection", "awaiting"),
        (RejectionApprovalDecided, "application_rejection", "approved"),
    ]
    mine = browser("citizen-ana").get(f"/applications/{public_id}")
    assert "Your application was rejected" in mine.text
    assert "Wrong VIN" in mine.html.find(id="reason").text
    assert "The fee of €120.00 is refunded to the card you paid with." in mine.text
    cases = dict(dbsession.execute(select(Case.kind, Case.outcome)).all())
    assert cases == {"application": "rejected", "approval": "approved"}


def test_a_rejected_rejection_leaves_the_application_in_the_queue(
    wsgi_app, monkeypatch, browser, paid_in_revenue, dbsession
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 100.00"
    )
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    post(clara, f"/backoffice/applications/{public_id}/reject", {"reason": "Wrong VIN"})
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    post(
        browser("clerk-eva"),
        f"/backoffice/approvals/{approval.public_id}/reject",
        {"note": "The VIN is right"},
    )
    application = the_application(dbsession, public_id)
    assert (application.status, application.refund) == ("in_queue", None)
    assert refunded_at_provider(dbsession, wsgi_app.registry["payment_provider"]) == Money(0, "EUR")
    assert "approve-form" in clara.get(f"/backoffice/applications/{public_id}").forms


def test_a_withdrawn_cancellation_leaves_the_application_in_the_queue(
    wsgi_app, monkeypatch, browser, paid_in_revenue, dbsession
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 100.00"
    )
    public_id = paid_in_revenue
    clara = browser("clerk-clara")
    post(clara, f"/backoffice/applications/{public_id}/cancel", {"cancel_reason": REASON})
    approval = dbsession.scalars(select(ApprovalRequest)).one()
    post(clara, f"/backoffice/approvals/{approval.public_id}/withdraw")
    application = the_application(dbsession, public_id)
    assert (application.status, application.refund) == ("in_queue", None)
    assert refunded_at_provider(dbsession, wsgi_app.registry["payment_provider"]) == Money(0, "EUR")
    assert "approve-form" in clara.get(f"/backoffice/applications/{public_id}").forms
    cases = dict(dbsession.execute(select(Case.kind, Case.state)).all())
    assert cases == {"application": "received", "approval": "decided"}
