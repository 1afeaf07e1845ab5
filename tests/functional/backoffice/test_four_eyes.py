"""Four-eyes refunds: above the revenue office's threshold one clerk asks, a different clerk
of the same department approves, and only the approval reaches the sandbox provider. The one
who asked cannot decide, neither from a second session nor through the API; a clerk of another
department cannot either; a decided request stays decided."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import func, select

from portal.api.auth import create_api_key
from portal.audit.models import AuditEntry
from portal.billing import ledger
from portal.billing.events import ApprovalDecided, ApprovalRequested
from portal.billing.models import ApprovalRequest, Refund, RefundTransition
from portal.cases.models import Case
from portal.identity.language_choice import COOKIE_NAME
from portal.money import Money
from tests import factories
from tests.conftest import sign_in
from tests.error_summary import assert_error_summary
from tests.functional.approval_events import heard  # noqa: F401
from tests.functional.backoffice.conftest import csrf_token, refund_form, the_payment
from tests.languages import pages_follow_accept_language

REASON = "Assessment corrected by the tax office"
SAME_ORIGIN = {"Origin": "https://localhost"}


@pytest.fixture
def threshold(wsgi_app, monkeypatch):
    """Revenue's four-eyes threshold at 10.00 EUR for this test (the session's app has none)."""
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )


@pytest.fixture
def browser(wsgi_app, devidp, departments):
    """A factory: ``browser("clerk-eva")`` is a new browser (its own session) signed in as
    that persona."""

    def make(persona: str) -> webtest.TestApp:
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert sign_in(app, devidp, persona).status_int == 303
        return app

    return make


def ask_refund(app, payment, amount="12.50"):
    """Clara's refund of the payment's one bill through the pages: the confirmation says a
    second clerk must approve, and asking sends nothing."""
    bill = payment.allocations[0].bill
    confirm = refund_form(app, payment, {bill: amount}, REASON).submit(status=200)
    assert confirm.html.find(id="needs-approval") is not None
    assert "Ask a second clerk to approve €12.50" in confirm.text
    done = confirm.forms["confirm-form"].submit(status=303).follow()
    assert "A second clerk of the department must approve it" in done.text
    return done


def the_approval(dbsession) -> ApprovalRequest:
    dbsession.expire_all()
    return dbsession.scalars(select(ApprovalRequest)).one()


def the_case(dbsession) -> Case:
    """The work queue's case for the request (one per request, ended by its decision)."""
    dbsession.expire_all()
    return dbsession.scalars(select(Case).where(Case.kind == "approval")).one()


def refunds_of(dbsession, payment) -> list[Refund]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id)))


def assert_nothing_sent(dbsession, provider, payment):
    """The refund is asked for and its money reserved; the provider has seen nothing."""
    (refund,) = refunds_of(dbsession, payment)
    assert refund.status == "awaiting_approval"
    assert the_payment(dbsession, payment.public_id).refunded_minor == 12_50
    assert provider.query_payment(payment.public_id).refunded == Money(0, "EUR")
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 12_50}
    assert the_approval(dbsession).status == "awaiting"


def post(app, url, fields=None, status=303):
    fields = {"csrf_token": csrf_token(app), **(fields or {})}
    return app.post(url, fields, headers={"Referer": "https://localhost/"}, status=status)


def test_a_second_clerk_approves_and_only_then_the_provider_refunds(
    threshold,
    signed_in,
    browser,
    payments,
    dbsession,
    provider,
    heard,  # noqa: F811
):
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    shown = ask_refund(clara, payment)
    assert "refund-form" not in shown.forms  # the money is reserved: nothing left to refund
    assert shown.html.find(id="awaiting-approval") is not None
    # reserved, not refunded: the page says which
    assert shown.html.find(id="awaiting-total").text.split()[-1] == "€12.50"
    assert shown.html.find(id="refunded-total").text.split()[-1] == "€0.00"
    assert_nothing_sent(dbsession, provider, payment)
    approval = the_approval(dbsession)
    assert (approval.kind, approval.amount_minor, approval.reason) == ("refund", 12_50, REASON)
    assert approval.requested_by.name_id == "clerk-clara"

    case = the_case(dbsession)
    assert (case.subject_id, case.department_id, case.state) == (
        approval.public_id,
        approval.department_id,
        "received",
    )

    own = clara.get(f"/backoffice/approvals/{approval.public_id}")
    assert own.html.find(id="own-request") is not None and "approve-form" not in own.forms

    # the case asks for a second clerk: Clara may not take it, Eva may
    assert "claim-form" not in clara.get(f"/backoffice/cases/{case.public_id}").forms
    refused = post(clara, f"/backoffice/cases/{case.public_id}/claim", {"version": "0"}, status=403)
    assert "You asked for this yourself" in refused.text
    assert the_case(dbsession).assignee_id is None
    eva = browser("clerk-eva")
    queue = eva.get("/backoffice/cases")
    assert f"/backoffice/cases/{case.public_id}" in queue.text
    eva.get(f"/backoffice/cases/{case.public_id}").forms["claim-form"].submit(status=303)
    assert the_case(dbsession).assignee.name_id == "clerk-eva"
    claimed = eva.get(f"/backoffice/cases/{case.public_id}")
    offered = (
        claimed.forms["hand-over-form"]["to"].options if "hand-over-form" in claimed.forms else []
    )
    assert not [text for _value, _selected, text in offered if "Clara" in text]
    listed = eva.get("/backoffice").click(linkid="approvals-link")
    assert "Clara Zupan" in listed.html.find(id="awaiting").text
    page = listed.click(href=f"/backoffice/approvals/{approval.public_id}")
    assert REASON in page.html.find(id="reason").text
    bill = payment.allocations[0].bill
    assert f"Refund of payment {payment.public_id}: bill {bill.number} €12.50" in page.text
    assert "Clara Zupan" in page.html.find(id="requested-by").text
    assert "€12.50" in page.html.find(id="amount").text
    done = page.forms["approve-form"].submit(status=303).follow()
    assert "Approved" in done.html.find(id="status").text

    (refund,) = refunds_of(dbsession, payment)
    assert refund.status == "succeeded"
    assert provider.query_payment(payment.public_id).refunded == Money(12_50, "EUR")
    assert the_payment(dbsession, payment.public_id).status == "refunded"
    steps = dbsession.execute(
        select(RefundTransition.from_status, RefundTransition.to_status)
        .where(RefundTransition.refund_id == refund.id)
        .order_by(RefundTransition.id)
    ).all()
    assert steps == [("awaiting_approval", "requested"), ("requested", "succeeded")]
    approval = the_approval(dbsession)
    assert (approval.status, approval.decided_by.name_id) == ("approved", "clerk-eva")
    assert (the_case(dbsession).state, the_case(dbsession).outcome) == ("decided", "approved")
    assert the_case(dbsession).assignee.name_id == "clerk-eva"
    trail = dbsession.execute(
        select(AuditEntry.action, AuditEntry.actor_id)
        .where(AuditEntry.object_id == approval.public_id)
        .order_by(AuditEntry.seq)
    ).all()
    assert trail == [
        ("approval.requested", approval.requested_by_id),
        ("approval.approved", approval.decided_by_id),
    ]
    assert heard == [
        (ApprovalRequested, "refund", "awaiting", None),
        (ApprovalDecided, "refund", "approved", None),
    ]


def test_the_refunds_request_reads_in_the_approving_clerks_language(
    threshold, signed_in, browser, payments, dbsession
):
    """What goes back on which bill, in Slovenian with its amount as Slovenian writes it, on
    the list, the request's page and the work queue's case; in English in English."""
    payment = payments.settled(amount=12_50)
    ask_refund(signed_in("clerk-clara"), payment)
    approval, case = the_approval(dbsession), the_case(dbsession)
    number = payment.allocations[0].bill.number
    english = f"Refund of payment {payment.public_id}: bill {number} €12.50"
    slovenian = f"Vračilo plačila {payment.public_id}: račun {number} 12,50\xa0€"
    assert approval.description == english  # the record

    eva = browser("clerk-eva")
    eva.set_cookie(COOKIE_NAME, "sl")
    assert slovenian in eva.get("/backoffice/approvals").html.find(id="awaiting").text
    page = eva.get(f"/backoffice/approvals/{approval.public_id}")
    assert slovenian in page.text and english not in page.text
    assert slovenian in eva.get(f"/backoffice/cases/{case.public_id}").html.find("h1").text
    eva.set_cookie(COOKIE_NAME, "en")
    assert english in eva.get(f"/backoffice/approvals/{approval.public_id}").text


def test_at_or_below_the_threshold_one_clerk_refunds_at_once(
    wsgi_app, monkeypatch, signed_in, payments, dbsession, provider
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 12.50"
    )
    payment = payments.settled(amount=12_50)
    app = signed_in("clerk-clara")
    bill = payment.allocations[0].bill
    confirm = refund_form(app, payment, {bill: "12.50"}, REASON).submit(status=200)
    assert confirm.html.find(id="needs-approval") is None
    confirm.forms["confirm-form"].submit(status=303)
    assert [r.status for r in refunds_of(dbsession, payment)] == ["succeeded"]
    assert provider.query_payment(payment.public_id).refunded == Money(12_50, "EUR")
    assert dbsession.scalar(select(func.count()).select_from(ApprovalRequest)) == 0


def test_the_clerk_who_asked_cannot_approve_in_any_session(
    threshold, signed_in, browser, payments, dbsession, provider, caplog
):
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    ask_refund(clara, payment)
    approval = the_approval(dbsession)
    url = f"/backoffice/approvals/{approval.public_id}/approve"

    refused = post(clara, url, status=403)
    assert "You asked for this yourself" in refused.text
    second_session = browser("clerk-clara")
    refused = post(second_session, url, status=403)
    assert "You asked for this yourself" in refused.text
    assert "refused 403 forbidden: You asked for this yourself" in caplog.text
    assert_nothing_sent(dbsession, provider, payment)


def test_through_the_api_the_same_person_and_a_service_key_are_refused(
    threshold, wsgi_app, signed_in, browser, payments, dbsession, provider
):
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    ask_refund(clara, payment)
    approval = the_approval(dbsession)
    url = f"/api/v1/approvals/{approval.public_id}/decision"

    second_session = browser("clerk-clara")
    refused = second_session.post_json(
        url,
        {"decision": "approve"},
        headers={"X-CSRF-Token": csrf_token(second_session), **SAME_ORIGIN},
        status=403,
    )
    assert refused.content_type == "application/problem+json"
    assert "You asked for this yourself" in refused.json["detail"]

    service = factories.service(dbsession, "property-tax")
    _key, token = create_api_key(dbsession, service, "tax office")
    dbsession.commit()
    key_client = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    # a service's key is nobody: the decision wants a signed-in clerk
    refused = key_client.post_json(
        url,
        {"decision": "approve"},
        headers={"Authorization": f"Bearer {token}", **SAME_ORIGIN},
        status=401,
    )
    assert refused.json["title"] == "Sign-in required"
    assert_nothing_sent(dbsession, provider, payment)

    eva = browser("clerk-eva")
    done = eva.post_json(
        url,
        {"decision": "approve"},
        headers={"X-CSRF-Token": csrf_token(eva), **SAME_ORIGIN},
        status=200,
    )
    assert done.json == {"id": approval.public_id, "kind": "refund", "status": "approved"}
    assert provider.query_payment(payment.public_id).refunded == Money(12_50, "EUR")


def test_a_clerk_of_another_department_is_refused(
    threshold, signed_in, browser, payments, dbsession, provider
):
    payment = payments.settled(amount=12_50)
    ask_refund(signed_in("clerk-clara"), payment)
    approval = the_approval(dbsession)
    dan = browser("clerk-dan")
    dan.get(f"/backoffice/approvals/{approval.public_id}", status=403)
    assert "Clara" not in dan.get("/backoffice/approvals").text
    refused = post(dan, f"/backoffice/approvals/{approval.public_id}/approve", status=403)
    assert "Only a clerk of Revenue Office can decide this request." in refused.text
    assert_nothing_sent(dbsession, provider, payment)


def test_a_rejection_needs_a_reason_and_frees_the_money(
    threshold, signed_in, browser, payments, dbsession, provider
):
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    ask_refund(clara, payment)
    approval = the_approval(dbsession)
    eva = browser("clerk-eva")
    url = f"/backoffice/approvals/{approval.public_id}/reject"
    refused = post(eva, url, {"note": "  "}, status=422)
    assert "Give the reason for rejecting the request." in refused.text
    assert_nothing_sent(dbsession, provider, payment)
    # through the page: the request's page again, the summary linking to the reason's field
    page = eva.get(f"/backoffice/approvals/{approval.public_id}")
    refused = page.forms["reject-form"].submit(status=422)
    assert_error_summary(refused, ["reject-note"])
    assert "Give the reason for rejecting the request." in refused.html.find(id="form-errors").text
    approve = refused.forms["approve-form"]
    approve["note"] = "x" * 2001
    refused = approve.submit(status=422)
    assert_error_summary(refused, ["approve-note"])
    assert (
        "Keep the reason under 2000 characters." in refused.html.find(id="approve-note-error").text
    )
    assert refused.html.find(id="approve-note").text == "x" * 2001
    assert_nothing_sent(dbsession, provider, payment)
    assert the_approval(dbsession).decided_by_id is None

    post(eva, url, {"note": "The assessment was right"})
    (refund,) = refunds_of(dbsession, payment)
    assert refund.status == "rejected"
    assert the_payment(dbsession, payment.public_id).refunded_minor == 0
    assert provider.query_payment(payment.public_id).refunded == Money(0, "EUR")
    approval = the_approval(dbsession)
    assert (approval.status, approval.decision_note) == ("rejected", "The assessment was right")
    # the money can be asked for again
    assert "refund-form" in clara.get(f"/backoffice/payments/{payment.public_id}").forms


def test_a_decided_request_cannot_be_decided_again(
    threshold, signed_in, browser, payments, dbsession, provider
):
    payment = payments.settled(amount=12_50)
    ask_refund(signed_in("clerk-clara"), payment)
    approval = the_approval(dbsession)
    post(browser("clerk-eva"), f"/backoffice/approvals/{approval.public_id}/approve")
    ada = browser("admin-ada")
    refused = post(ada, f"/backoffice/approvals/{approval.public_id}/reject", {"note": "no"}, 409)
    assert "This request was already decided by another clerk." in refused.text
    assert the_approval(dbsession).status == "approved"
    assert provider.query_payment(payment.public_id).refunded == Money(12_50, "EUR")


def test_a_refund_split_into_pieces_within_the_threshold_still_needs_a_second_clerk(
    threshold, signed_in, payments, dbsession, provider
):
    """What the payment already gave back counts: 6.00 then 6.00 more is 12.00 refunded,
    above the 10.00 threshold, so the second piece waits for a second clerk."""
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    bill = payment.allocations[0].bill
    first = refund_form(clara, payment, {bill: "6.00"}, REASON).submit(status=200)
    assert first.html.find(id="needs-approval") is None
    first.forms["confirm-form"].submit(status=303)
    assert [r.status for r in refunds_of(dbsession, payment)] == ["succeeded"]

    payment = the_payment(dbsession, payment.public_id)
    second = refund_form(clara, payment, {bill: "6.00"}, REASON).submit(status=200)
    assert second.html.find(id="needs-approval") is not None
    second.forms["confirm-form"].submit(status=303)
    assert sorted(r.status for r in refunds_of(dbsession, payment)) == [
        "awaiting_approval",
        "succeeded",
    ]
    assert provider.query_payment(payment.public_id).refunded == Money(6_00, "EUR")
    approval = the_approval(dbsession)
    assert (approval.status, approval.amount_minor) == ("awaiting", 6_00)


def test_the_clerk_who_asked_withdraws_the_request_and_the_money_is_free_again(
    wsgi_app,
    threshold,
    signed_in,
    browser,
    payments,
    dbsession,
    provider,
    heard,  # noqa: F811
):
    """A department without a second clerk at hand is not stuck: the one who asked takes the
    request back (a POST with the CSRF token, only them), the refund is dropped, its money
    freed, the work queue's case ends and the audit trail says who withdrew it."""
    payment = payments.settled(amount=12_50)
    clara = signed_in("clerk-clara")
    ask_refund(clara, payment)
    approval = the_approval(dbsession)
    url = f"/backoffice/approvals/{approval.public_id}/withdraw"

    clara.post(url, {}, headers={"Referer": "https://localhost/"}, status=400)  # no CSRF token
    eva = browser("clerk-eva")
    assert "withdraw-form" not in eva.get(f"/backoffice/approvals/{approval.public_id}").forms
    refused = post(eva, url, status=403)
    assert "Only the clerk who asked for this can withdraw it." in refused.text
    assert_nothing_sent(dbsession, provider, payment)

    page = clara.get(f"/backoffice/approvals/{approval.public_id}")
    done = page.forms["withdraw-form"].submit(status=303).follow()
    assert "Withdrawn. Nothing was done, and the money is free again." in done.text
    assert "Withdrawn" in done.html.find(id="status").text
    assert "withdraw-form" not in done.forms

    (refund,) = refunds_of(dbsession, payment)
    assert refund.status == "rejected"
    assert the_payment(dbsession, payment.public_id).refunded_minor == 0
    assert provider.query_payment(payment.public_id).refunded == Money(0, "EUR")
    approval = the_approval(dbsession)
    assert (approval.status, approval.decided_by_id) == ("withdrawn", None)
    assert approval.decided_at is not None
    case = the_case(dbsession)
    assert (case.state, case.outcome) == ("decided", "withdrawn")
    assert case.transitions[-1].actor_id == approval.requested_by_id
    trail = dbsession.execute(
        select(AuditEntry.action, AuditEntry.actor_id)
        .where(AuditEntry.object_id == approval.public_id)
        .order_by(AuditEntry.seq)
    ).all()
    assert trail == [
        ("approval.requested", approval.requested_by_id),
        ("approval.withdrawn", approval.requested_by_id),
    ]
    assert heard[-1] == (ApprovalDecided, "refund", "withdrawn", None)
    assert "Withdrawn" in clara.get("/backoffice/approvals").html.find(id="decided").text
    # in French the request (une demande) is "Retirée", and its kind is named in French
    french = {"Accept-Language": "fr"}
    with pages_follow_accept_language(wsgi_app.registry):
        page = clara.get(f"/backoffice/approvals/{approval.public_id}", headers=french)
        listed = clara.get("/backoffice/approvals", headers=french).html.find(id="decided")
    assert page.html.find(id="status").text.strip() == "Retirée"
    assert page.html.find("h1").text.startswith("Remboursement ")
    assert "Retirée" in listed.text and "Remboursement" in listed.text

    # nothing left to decide or withdraw; the money can be asked for again
    post(eva, f"/backoffice/approvals/{approval.public_id}/approve", status=409)
    post(clara, url, status=409)
    assert "refund-form" in clara.get(f"/backoffice/payments/{payment.public_id}").forms


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser goes
        '{"decision": "reject", "note": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"decision": "reject", "note": "a\\u0000b"}',  # a NUL, which PostgreSQL cannot store
        '{"decision": "reject", "note": "a\\u0007b"}',
        '{"decision": "reject", "note": "a\\ud800b"}',  # half a surrogate pair
    ],
    ids=["deep", "deep-note", "nul", "bell", "surrogate"],
)
def test_through_the_api_a_body_no_clerk_would_send_is_refused(
    threshold, signed_in, browser, payments, dbsession, provider, body
):
    payment = payments.settled(amount=12_50)
    ask_refund(signed_in("clerk-clara"), payment)
    approval = the_approval(dbsession)
    eva = browser("clerk-eva")
    refused = eva.post(
        f"/api/v1/approvals/{approval.public_id}/decision",
        body,
        headers={
            "Content-Type": "application/json",
            "X-CSRF-Token": csrf_token(eva),
            **SAME_ORIGIN,
        },
        status=422,
    )
    assert refused.content_type == "application/problem+json"
    approval = the_approval(dbsession)
    assert (approval.status, approval.decided_at) == ("awaiting", None)
    assert_nothing_sent(dbsession, provider, payment)
