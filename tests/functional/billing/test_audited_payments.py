"""A payment's outcome is audited in the notification's transaction, at the cost of one SQL
statement on the payment path; a declined card is audited as a failure."""

from __future__ import annotations

from sqlalchemy import select

from portal.audit import verify
from portal.audit.models import AuditEntry
from portal.billing.models import Payment
from tests.functional.billing.conftest import deliver, notifications_for
from tests.sandbox.conftest import DECLINED, SUCCESS
from tests.sql import statements


def the_payment(dbsession) -> Payment:
    dbsession.expire_all()
    return dbsession.scalars(select(Payment)).one()


def audited(dbsession) -> list[AuditEntry]:
    dbsession.expire_all()
    return list(
        dbsession.scalars(
            select(AuditEntry).where(AuditEntry.action.like("payment.%")).order_by(AuditEntry.seq)
        )
    )


def test_a_success_is_audited_for_one_statement(
    payer, ana, ana_bills, dbsession, sandbox, wsgi_app
):
    payer.enter_card(payer.checkout(payer.pay(ana_bills[:1])), SUCCESS)
    payment = the_payment(dbsession)
    (notification,) = notifications_for(sandbox, payment.public_id)

    with statements(wsgi_app) as seen:
        assert deliver(payer.app, notification).json == {"status": "processed"}

    (entry,) = audited(dbsession)
    assert (entry.action, entry.subject_id, entry.object_id) == (
        "payment.succeeded",
        ana.id,
        payment.public_id,
    )
    audit_statements = [s for s in seen if "audit_" in s]
    assert len(audit_statements) == 1
    assert verify(dbsession).ok


def test_a_declined_card_is_audited_as_a_failure(payer, ana_bills, dbsession, sandbox):
    payer.enter_card(payer.checkout(payer.pay(ana_bills[:1])), DECLINED)
    payment = the_payment(dbsession)
    (notification,) = notifications_for(sandbox, payment.public_id)

    deliver(payer.app, notification)

    (entry,) = audited(dbsession)
    assert (entry.action, entry.object_id) == ("payment.failed", payment.public_id)
    assert entry.details["cause"]
