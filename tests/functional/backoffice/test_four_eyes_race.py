"""Two clerks deciding one request for approval at the same moment, over real HTTP on
PostgreSQL: one decision wins, the other is told the request was already decided, and the
refund reaches the provider at most once. The same holds for the clerk who asked withdrawing
just as a second clerk approves."""

from __future__ import annotations

import pytest
import requests
import webtest
from sqlalchemy import select

from portal.billing.models import ApprovalRequest, Refund
from portal.money import Money
from tests.conftest import sign_in
from tests.functional.backoffice.conftest import csrf_token, refund_form
from tests.functional.test_concurrency import TIMEOUT, at_once, portal_url  # noqa: F401


@pytest.fixture
def browser(wsgi_app, devidp, departments):
    def make(persona: str) -> webtest.TestApp:
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert sign_in(app, devidp, persona).status_int == 303
        return app

    return make


def pressing(portal_url, app, approval: ApprovalRequest, decision: str):  # noqa: F811
    """``app``'s clerk pressing Approve or Reject, as a real browser request, ready to go."""
    url = f"{portal_url}/backoffice/approvals/{approval.public_id}/{decision}"
    data = {"csrf_token": csrf_token(app), "note": "checked against the assessment"}
    headers = {
        "Cookie": f"portal_session={app.cookies['portal_session']}",
        "Origin": "https://localhost",
    }

    def press() -> int:
        return requests.post(
            url, data=data, headers=headers, allow_redirects=False, timeout=TIMEOUT
        ).status_code

    return press


@pytest.mark.postgresql
@pytest.mark.parametrize("decisions", [("approve", "approve"), ("approve", "reject")])
def test_two_clerks_deciding_at_once_one_wins(
    decisions,
    portal_url,  # noqa: F811
    wsgi_app,
    monkeypatch,
    signed_in,
    browser,
    payments,
    dbsession,
    provider,
):
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )
    eva, ada = browser("clerk-eva"), browser("admin-ada")
    clara = signed_in("clerk-clara")
    for _round in range(3):
        payment = payments.settled(amount=12_50)
        bill = payment.allocations[0].bill
        confirm = refund_form(clara, payment, {bill: "12.50"}, "Paid twice").submit(status=200)
        confirm.forms["confirm-form"].submit(status=303)
        dbsession.expire_all()
        approval = dbsession.scalars(
            select(ApprovalRequest).where(ApprovalRequest.status == "awaiting")
        ).one()

        answers = at_once(
            [
                pressing(portal_url, eva, approval, decisions[0]),
                pressing(portal_url, ada, approval, decisions[1]),
            ]
        )

        assert sorted(answers) == [303, 409], answers
        dbsession.expire_all()
        decided = dbsession.get(ApprovalRequest, approval.id)
        winner = decisions[answers.index(303)]
        assert decided.status == {"approve": "approved", "reject": "rejected"}[winner]
        refund = dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id)).one()
        refunded = provider.query_payment(payment.public_id).refunded
        if winner == "approve":
            assert (refund.status, refunded) == ("succeeded", Money(12_50, "EUR"))
        else:
            assert (refund.status, refunded) == ("rejected", Money(0, "EUR"))


@pytest.mark.postgresql
def test_a_withdrawal_and_an_approval_at_once_one_wins(
    portal_url,  # noqa: F811
    wsgi_app,
    monkeypatch,
    signed_in,
    browser,
    payments,
    dbsession,
    provider,
):
    """The clerk who asked withdraws just as a second clerk approves: exactly one happens,
    and the refund is sent only if the approval won."""
    monkeypatch.setitem(
        wsgi_app.registry.settings, "billing.four_eyes.threshold.revenue", "EUR 10.00"
    )
    eva = browser("clerk-eva")
    clara = signed_in("clerk-clara")
    for _round in range(3):
        payment = payments.settled(amount=12_50)
        bill = payment.allocations[0].bill
        confirm = refund_form(clara, payment, {bill: "12.50"}, "Paid twice").submit(status=200)
        confirm.forms["confirm-form"].submit(status=303)
        dbsession.expire_all()
        approval = dbsession.scalars(
            select(ApprovalRequest).where(ApprovalRequest.status == "awaiting")
        ).one()

        answers = at_once(
            [
                pressing(portal_url, clara, approval, "withdraw"),
                pressing(portal_url, eva, approval, "approve"),
            ]
        )

        assert sorted(answers) == [303, 409], answers
        dbsession.expire_all()
        decided = dbsession.get(ApprovalRequest, approval.id)
        refund = dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id)).one()
        refunded = provider.query_payment(payment.public_id).refunded
        if answers[0] == 303:
            assert (decided.status, refund.status, refunded) == (
                "withdrawn",
                "rejected",
                Money(0, "EUR"),
            )
        else:
            assert (decided.status, refund.status, refunded) == (
                "approved",
                "succeeded",
                Money(12_50, "EUR"),
            )
