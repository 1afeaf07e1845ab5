"""A person with a history: Ana has paid two bills through the sandbox (a signed receipt was
issued), has a draft application and a decided one; and what the ledger, the receipts and the
verify page say, to compare after retention or erasure."""

from __future__ import annotations

import datetime as dt

import pytest
import webtest
from sqlalchemy import func, select

from portal.applications.models import Application, ApplicationEvent
from portal.audit import record, verify
from portal.audit.models import AuditEntry
from portal.billing.models import JournalEntry, Payment
from portal.receipts.models import Receipt
from portal.tasks import task_dbsession
from tests import factories
from tests.conftest import sign_in
from tests.functional.billing.conftest import (  # noqa: F401 (fixtures)
    ana,
    ana_bills,
    deliver,
    notifications_for,
    payer,
)
from tests.functional.receipts.test_receipts import validate
from tests.sandbox.conftest import SUCCESS


@pytest.fixture
def paid(payer, ana_bills, dbsession, sandbox):  # noqa: F811 (the fixtures above)
    """Ana pays both bills with the success card; the notification reaches the portal."""
    hosted = payer.checkout(payer.pay(ana_bills))
    payer.enter_card(hosted, SUCCESS)
    payment = dbsession.scalars(select(Payment)).one()
    deliver(payer.app, notifications_for(sandbox, payment.public_id)[0])
    dbsession.expire_all()
    return payment


@pytest.fixture
def applications(ana, dbsession):  # noqa: F811 (the fixture above)
    """Ana's draft (never submitted) and an application of hers approved with a note."""
    now = dt.datetime.now(dt.UTC)
    service = factories.service(dbsession, "vehicle-registration", department_code="registry")
    draft = Application(
        service=service,
        applicant=ana,
        status="draft",
        form_json='{"plate": "LJ 123-AB"}',
        created_at=now,
        updated_at=now,
    )
    decided = Application(
        service=service,
        applicant=ana,
        status="approved",
        form_json='{"plate": "LJ 999-ZZ", "owner": "Ana Novak"}',
        decision_reason="Documents checked with Ana in person",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    decided.events = [
        ApplicationEvent(to_status="approved", note="Ana brought her passport", at=now)
    ]
    dbsession.add_all([draft, decided])
    dbsession.commit()
    return {"draft": draft.id, "decided": decided.id}


@pytest.fixture
def audited(ana, wsgi_app):  # noqa: F811 (the fixture above)
    """An audit entry about Ana with her name as its personal data, as a sign-in records."""
    with task_dbsession(wsgi_app.registry) as session:
        record(
            session,
            "identity.signed_in",
            actor_id=ana.id,
            subject_id=ana.id,
            object=("user", ana.id),
            personal={"name": "Ana Novak"},
        )


def audit_chain_verifies(dbsession) -> bool:
    dbsession.expire_all()
    return verify(dbsession).ok


def personal_details_of(dbsession, person_id: int) -> list:
    dbsession.expire_all()
    return list(
        dbsession.scalars(
            select(AuditEntry.personal).where(
                AuditEntry.subject_id == person_id, AuditEntry.personal.is_not(None)
            )
        )
    )


def ledger(dbsession) -> dict[int, tuple[int, int]]:
    """Per ledger account: the sum and the number of its journal entries."""
    rows = dbsession.execute(
        select(JournalEntry.account_id, func.sum(JournalEntry.amount_minor), func.count())
        .group_by(JournalEntry.account_id)
        .order_by(JournalEntry.account_id)
    )
    return {account: (total, count) for account, total, count in rows}


def receipts(dbsession) -> dict[str, tuple[str, bytes]]:
    dbsession.expire_all()
    return {
        receipt.number: (receipt.verification_code, receipt.pdf)
        for receipt in dbsession.scalars(select(Receipt))
    }


def assert_receipts_still_hold(dbsession, before, testapp, keys_dir) -> None:
    """Every receipt is still there, byte for byte, its signature valid, /verify says so."""
    assert receipts(dbsession) == before
    for number, (code, pdf) in before.items():
        status = validate(pdf, keys_dir / "signing.crt")
        assert status.intact and status.valid and status.bottom_line
        shown = testapp.get(f"/verify/{code}", status=200)
        assert "Valid" in shown.text and number in shown.text


@pytest.fixture
def browser(wsgi_app):
    """Another browser on the same portal (one person per browser)."""

    def open_as(devidp, persona):
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        assert sign_in(app, devidp, persona).status_int == 303
        return app

    return open_as


@pytest.fixture
def case(ana, dbsession):  # noqa: F811 (the fixture above)
    """A case about Ana, ended now: a public note, an internal note, an attachment."""
    from portal.cases.models import Case, CaseAttachment, CaseNote
    from portal.procurement.models import StoredFile

    now = dt.datetime.now(dt.UTC)
    made = Case(
        kind="application",
        subject_type="application",
        subject_id="1",
        title="Vehicle registration",
        person_id=ana.id,
        state="closed",
        opened_at=now,
        due_at=now,
        ended_at=now,
        outcome="approved",
    )
    made.notes = [
        CaseNote(public=True, text="We received your documents.", at=now),
        CaseNote(public=False, text="Ana phoned twice, seemed upset", at=now),
    ]
    scan = StoredFile(
        sha256="ab" * 32, media_type="application/pdf", size=5, content=b"%PDF-", created_at=now
    )
    made.attachments = [
        CaseAttachment(file=scan, filename="ana-passport.pdf", uploaded_by=ana, at=now)
    ]
    dbsession.add(made)
    dbsession.commit()
    return made.id


@pytest.fixture
def written_off(ana, dbsession):  # noqa: F811 (the fixture above)
    """A bill of Ana's written off now, above the threshold: the clerks' reasons in free text
    on the bill and on the approval request a second clerk decided."""
    from portal.billing.models import ApprovalRequest
    from portal.billing.writeoffs import write_off_bill

    now = dt.datetime.now(dt.UTC)
    bill = factories.bill(dbsession, ana, amount=20_00)
    asking = factories.user(dbsession, "clerk-asking")
    write_off_bill(dbsession, bill, "Ana lost her job, her neighbour says", now, asking.id)
    deciding = factories.user(dbsession, "clerk-deciding")
    approval = ApprovalRequest(
        kind="write_off",
        department=factories.department(dbsession),
        subject=bill.public_id,
        description=f"Write off bill {bill.number}",
        amount_minor=20_00,
        currency="EUR",
        reason="Ana lost her job, her neighbour says",
        requested_by_id=asking.id,
        requested_at=now,
        status="approved",
        decided_by_id=deciding.id,
        decided_at=now,
        decision_note="Ana is known to the social office",
    )
    dbsession.add(approval)
    dbsession.commit()
    return bill.id, approval.id


def decision_notes(dbsession, written_off) -> tuple:
    """What the clerks' free text of ``written_off`` reads now."""
    from portal.billing.models import ApprovalRequest, Bill

    bill_id, approval_id = written_off
    dbsession.expire_all()
    approval = dbsession.get(ApprovalRequest, approval_id)
    return (
        dbsession.get(Bill, bill_id).write_off_reason,
        approval.reason,
        approval.decision_note,
        approval.status,
    )
