"""The registry's clerk works the queue: approving issues a PDF certificate only the applicant
downloads; rejecting needs a reason and refunds the fee at the provider and in the ledger;
clerks of other departments are refused."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.applications.models import Certificate
from portal.billing import ledger, with_status
from portal.billing.models import Payment
from portal.money import Money
from tests.error_summary import assert_error_summary
from tests.functional.applications.conftest import (
    VEHICLE,
    apply,
    pay,
    post,
    the_application,
)
from tests.functional.billing.conftest import deliver, notifications_for


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_clerk_approves_and_the_applicant_downloads_the_certificate(
    citizen, clerk, browser, sandbox, dbsession
):
    markup = 'Actros <img src="http://127.0.0.1:9/track.png"> & Co'
    public_id = apply(citizen, dict(VEHICLE, make_model=markup))
    citizen.get(f"/applications/{public_id}/certificate", status=404)
    pay(citizen, sandbox, dbsession, public_id)

    queue = clerk.get("/backoffice/departments/registry/applications")
    assert "Ana Novak" in queue.html.find(id="queue").text
    review = queue.click(href=f"/backoffice/applications/{public_id}")
    assert "WDB9634031L123456" in review.text
    assert review.html.find(id="national-id").text == "\u2022" * 7 + "1234"  # masked
    assert "&lt;img" in review.text  # shown as text, never as markup
    done = review.forms["approve-form"].submit(status=303)
    page = done.follow()
    assert "Approved. Certificate C-" in page.text and "approve-form" not in page.text

    application = the_application(dbsession, public_id)
    assert application.status == "approved"
    assert application.decided_by.name_id == "clerk-dan"
    certificate = dbsession.scalars(select(Certificate)).one()

    mine = citizen.get(f"/applications/{public_id}")
    assert "Approved" in mine.text
    download = mine.click(linkid="certificate-link")
    assert download.content_type == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.body.startswith(b"%PDF-")
    assert download.etag == certificate.sha256
    text = pdf_text(download.body)
    assert certificate.number in text
    assert "Ana Novak" in text and "WDB9634031L123456" in text and "Truck" in text
    # the markup the citizen typed is printed as text (pdftotext may wrap it)
    assert '<imgsrc="http://127.0.0.1:9/track.png">&Co' in "".join(text.split())
    # the same bytes every time, and a cache that has them is told so
    assert citizen.get(download.request.path).body == download.body
    citizen.get(
        download.request.path, headers={"If-None-Match": f'"{certificate.sha256}"'}, status=304
    )

    browser("citizen-ben").get(download.request.path, status=403)
    clerk.get(download.request.path, status=403)


def test_clerk_rejects_with_a_reason_and_the_fee_is_refunded(
    citizen, clerk, sandbox, dbsession, wsgi_app
):
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    review = clerk.get(f"/backoffice/applications/{public_id}")

    no_reason = review.forms["reject-form"].submit(status=422)
    assert "Give the reason for the rejection." in no_reason.text
    assert the_application(dbsession, public_id).status == "in_queue"

    form = no_reason.forms["reject-form"]
    form["reason"] = "The VIN does not match the vehicle's papers."
    form.submit(status=303)

    application = the_application(dbsession, public_id)
    assert application.status == "rejected"
    payment = dbsession.scalars(select(Payment)).one()
    refund = application.refund
    assert (refund.amount_minor, refund.status) == (120_00, "succeeded")
    assert payment.status == "refunded"
    provider = wsgi_app.registry["payment_provider"]
    assert provider.query_payment(payment.public_id).refunded == Money(120_00, "EUR")
    # the money left the clearing account, and the fee is no longer owed
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
    (bill_view,) = with_status(dbsession, [application.bill])
    assert bill_view.status == "cancelled"
    assert ledger.account_balance(dbsession, f"receivable:user:{application.applicant_id}") == {
        "EUR": 0
    }
    assert ledger.account_balance(dbsession, "revenue:vehicle-registration") == {"EUR": 0}

    page = citizen.get(f"/applications/{public_id}")
    assert "Your application was rejected" in page.text
    assert "The VIN does not match the vehicle&#39;s papers." in page.text
    assert "The fee of €120.00 is refunded" in page.text
    history = page.html.find(id="history").text
    assert "Rejected; the fee is refunded" in history and "Refund of €120.00" in history
    # decided once: a second decision is refused and changes nothing
    post(clerk, f"/backoffice/applications/{public_id}/approve", status=409)
    assert the_application(dbsession, public_id).certificate is None


def test_a_decision_sent_without_its_reason_shows_the_page_again_with_the_error_by_its_field(
    citizen, clerk, sandbox, dbsession
):
    """No reason for a rejection or a cancellation, or a note too long: the application's
    page again, the summary linking to the field, what was typed kept; nothing decided."""
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    review = clerk.get(f"/backoffice/applications/{public_id}")

    page = review.forms["reject-form"].submit(status=422)
    assert_error_summary(page, ["reason"])
    assert "Give the reason for the rejection." in page.html.find(id="reason-error").text

    page = page.forms["cancel-form"].submit(status=422)
    assert_error_summary(page, ["cancel_reason"])
    assert "Give the reason for the cancellation." in page.html.find(id="form-errors").text

    approve = page.forms["approve-form"]
    approve["note"] = "x" * 2001
    page = approve.submit(status=422)
    assert_error_summary(page, ["note"])
    assert "Keep the note under 2000 characters." in page.html.find(id="note-error").text
    assert page.html.find(id="note").text == "x" * 2000

    application = the_application(dbsession, public_id)
    assert (application.status, application.refund, application.certificate) == (
        "in_queue",
        None,
        None,
    )


def test_an_unpaid_application_cannot_be_decided(citizen, clerk, dbsession):
    public_id = apply(citizen)
    assert "Ana Novak" not in clerk.get("/backoffice/departments/registry/applications").text
    review = clerk.get(f"/backoffice/applications/{public_id}")
    assert "approve-form" not in review.text
    post(clerk, f"/backoffice/applications/{public_id}/approve", status=409)
    post(clerk, f"/backoffice/applications/{public_id}/reject", {"reason": "no"}, status=409)
    assert the_application(dbsession, public_id).status == "awaiting_payment"


def test_clerk_of_another_department_is_refused(paid_application, browser, dbsession):
    clara = browser("clerk-clara")
    clara.get("/backoffice/departments/registry/applications", status=403)
    clara.get(f"/backoffice/applications/{paid_application}", status=403)
    post(clara, f"/backoffice/applications/{paid_application}/approve", status=403)
    post(
        clara,
        f"/backoffice/applications/{paid_application}/reject",
        {"reason": "not mine"},
        status=403,
    )
    assert the_application(dbsession, paid_application).status == "in_queue"


def test_deciding_needs_the_csrf_token(paid_application, clerk, dbsession):
    url = f"/backoffice/applications/{paid_application}/approve"
    post(clerk, url, status=400, with_token=False)
    post(clerk, url, {"csrf_token": "not-the-token"}, status=400, with_token=False)
    assert the_application(dbsession, paid_application).status == "in_queue"


def test_the_applicant_cannot_decide_their_own_application(paid_application, citizen, dbsession):
    post(citizen, f"/backoffice/applications/{paid_application}/approve", status=403)
    assert the_application(dbsession, paid_application).status == "in_queue"


def paid_with_water(citizen, sandbox, dbsession):
    """An application whose fee (€120.00) the applicant paid in one payment with a later
    water bill (€35.40): its public id and the water bill."""
    from tests import factories
    from tests.functional.billing.conftest import Payer
    from tests.sandbox.conftest import SUCCESS

    public_id = apply(citizen)
    application = the_application(dbsession, public_id)
    water = factories.bill(dbsession, application.applicant, amount=35_40, service_code="water")
    dbsession.commit()
    assert water.id > application.bill_id  # the last bill of the payment, refunded first before

    payer = Payer(citizen, sandbox, dbsession)
    checkout = payer.pay([application.bill, water])
    assert payer.enter_card(payer.checkout(checkout), SUCCESS).status_code == 303
    payment_id = urlsplit(checkout.location).path.split("/")[2]
    (notification,) = notifications_for(sandbox, payment_id)
    deliver(citizen, notification)
    return public_id, water


def test_rejecting_refunds_the_fee_alone_when_it_was_paid_with_other_bills(
    citizen, clerk, sandbox, dbsession
):
    """The fee and a later water bill paid in one go: the refund gives back the fee, and the
    water bill stays paid."""
    public_id, water = paid_with_water(citizen, sandbox, dbsession)

    review = clerk.get(f"/backoffice/applications/{public_id}")
    form = review.forms["reject-form"]
    form["reason"] = "The VIN does not match the vehicle's papers."
    form.submit(status=303)

    dbsession.expire_all()
    application = the_application(dbsession, public_id)
    assert [line.bill_id for line in application.refund.lines] == [application.bill_id]
    assert application.refund.amount_minor == 120_00
    fee_view, water_view = with_status(dbsession, [application.bill, water])
    assert (fee_view.status, water_view.status) == ("cancelled", "paid")
    assert dbsession.scalars(select(Payment)).one().status == "partly_refunded"


def test_rejecting_gives_back_what_is_left_of_the_fee_after_a_refund_not_yet_confirmed(
    citizen, clerk, sandbox, dbsession, wsgi_app
):
    """Part of the fee already asked back (not yet confirmed by the provider) counts: the
    rejection refunds the rest of the fee, not the whole fee again."""
    from portal.billing.payments import record_refund
    from portal.tasks import task_dbsession

    public_id, _water = paid_with_water(citizen, sandbox, dbsession)
    with task_dbsession(wsgi_app.registry) as session:
        payment = session.scalars(select(Payment)).one()
        fee = the_application(session, public_id).bill_id
        record_refund(session, payment, {fee: Money(20_00, "EUR")}, payment.refundable, "part")

    review = clerk.get(f"/backoffice/applications/{public_id}")
    form = review.forms["reject-form"]
    form["reason"] = "The VIN does not match the vehicle's papers."
    form.submit(status=303)

    dbsession.expire_all()
    application = the_application(dbsession, public_id)
    assert application.status == "rejected"
    assert [(line.bill_id, line.amount_minor) for line in application.refund.lines] == [
        (application.bill_id, 100_00)
    ]
