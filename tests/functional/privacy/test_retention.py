"""The retention job with the clock moved on: what is past its time goes, and the ledger's
balances, the receipts' signatures and /verify still hold."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import pytest
from sqlalchemy import select

from portal.applications.models import Application, ApplicationEvent
from portal.audit.models import AuditEntry
from portal.billing.models import Payment
from portal.identity.models import User, WebSession
from portal.privacy.retention import run_retention
from portal.scripts import retention as script
from tests import factories
from tests.functional.documents.conftest import (  # noqa: F401 (fixtures)
    outside_store,
    s3_endpoint,
    use_store,
)
from tests.functional.privacy.conftest import (
    assert_receipts_still_hold,
    audit_chain_verifies,
    decision_notes,
    ledger,
    personal_details_of,
    receipts,
)


def the_user(dbsession, user_id: int) -> User:
    dbsession.expire_all()
    return dbsession.get(User, user_id)


def test_within_their_periods_records_are_kept_and_drafts_and_old_sessions_go(
    paid, applications, audited, ana, dbsession, clock, wsgi_app
):
    clock.advance(days=200)
    done = run_retention(wsgi_app.registry)
    assert done["application_drafts"] == 1
    assert done["sessions"] >= 1  # Ana's browser session, unused for 200 days
    assert done["applications"] == done["national_ids"] == done["profiles"] == 0
    assert dbsession.get(Application, applications["draft"]) is None
    decided = dbsession.get(Application, applications["decided"])
    assert decided.form["owner"] == "Ana Novak"
    ana = the_user(dbsession, ana.id)
    assert ana.national_id_encrypted is not None and ana.family_name == "Novak"
    assert personal_details_of(dbsession, ana.id) == [{"name": "Ana Novak"}]
    assert audit_chain_verifies(dbsession)


def test_past_every_period_personal_data_goes_and_the_ledger_receipts_and_audit_hold(
    paid, applications, audited, ana, dbsession, clock, wsgi_app, testapp, keys_dir
):
    balances, kept_receipts = ledger(dbsession), receipts(dbsession)
    assert kept_receipts
    clock.advance(days=11 * 366)

    done = run_retention(wsgi_app.registry)

    assert done["application_drafts"] == 1 and done["applications"] == 1
    assert done["national_ids"] == 1 and done["profiles"] == 1
    assert done["audit"] >= 1  # the sign-in, eleven years ago, pruned
    decided = dbsession.get(Application, applications["decided"])
    dbsession.refresh(decided)
    assert decided.form == {} and decided.decision_reason is None
    assert dbsession.scalars(select(ApplicationEvent.note)).all() == [""]
    ana = the_user(dbsession, ana.id)
    assert (ana.given_name, ana.family_name, ana.email) == ("", "", "")
    assert ana.national_id_hash is None and ana.national_id_encrypted is None
    assert ana.name_id != "citizen-ana"
    assert not dbsession.scalars(select(WebSession)).all()
    # what the law keeps is whole
    assert ledger(dbsession) == balances
    assert dbsession.get(Payment, paid.id).status == "succeeded"
    assert_receipts_still_hold(dbsession, kept_receipts, testapp, keys_dir)
    assert audit_chain_verifies(dbsession)
    (entry,) = [e for e in dbsession.scalars(select(AuditEntry)) if e.action == "privacy.retention"]
    assert entry.details["counts"]["profiles"] == 1 and entry.personal is None
    # a second run finds nothing more
    again = run_retention(wsgi_app.registry)
    assert sum(again.values()) == 0
    assert audit_chain_verifies(dbsession)


def test_audit_entries_lose_their_personal_details_first_and_the_chain_verifies(
    audited, ana, dbsession, clock, wsgi_app
):
    clock.advance(days=3 * 366)
    done = run_retention(wsgi_app.registry)
    assert done["audit_personal"] == 1 and done["audit"] == 0
    assert personal_details_of(dbsession, ana.id) == []
    actions = dbsession.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[0] == "identity.signed_in"
    assert audit_chain_verifies(dbsession)


def test_a_national_identifier_is_kept_while_a_bill_in_its_name_is_open(
    ana, dbsession, clock, wsgi_app
):

    factories.bill(dbsession, ana, amount=50_00)
    dbsession.commit()
    clock.advance(days=4 * 366)
    assert run_retention(wsgi_app.registry)["national_ids"] == 0
    assert the_user(dbsession, ana.id).national_id_encrypted is not None


def test_a_dry_run_counts_and_changes_nothing(paid, applications, ana, dbsession, clock, wsgi_app):
    clock.advance(days=11 * 366)
    counted = run_retention(wsgi_app.registry, dry_run=True)
    assert counted["profiles"] == 1 and counted["application_drafts"] == 1
    assert dbsession.get(Application, applications["draft"]) is not None
    assert the_user(dbsession, ana.id).family_name == "Novak"


@pytest.fixture
def script_env(monkeypatch, wsgi_app):
    """The command bootstraps the running portal's registry instead of reading an ini file."""
    from pyramid.scripting import prepare

    monkeypatch.setattr(script, "bootstrap", lambda uri: prepare(registry=wsgi_app.registry))
    monkeypatch.setattr(script, "setup_logging", lambda uri: None)


def test_the_command_reports_and_logs_counts_per_kind(
    applications, dbsession, clock, script_env, capsys, caplog
):
    clock.advance(days=200)
    with caplog.at_level(logging.INFO, logger="portal.privacy.retention"):
        assert script.main(["portal.ini", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "application_drafts: 1 would redact or delete" in out
    assert dbsession.get(Application, applications["draft"]) is not None
    assert "retention dry run" in caplog.text and "application_drafts 1" in caplog.text
    assert script.main(["portal.ini"]) == 0
    assert "application_drafts: 1 redacted or deleted" in capsys.readouterr().out
    dbsession.expire_all()
    assert dbsession.get(Application, applications["draft"]) is None


def test_the_command_looks_ahead_only_in_a_dry_run(applications, dbsession, script_env, capsys):
    ahead = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    assert script.main(["portal.ini", "--dry-run", "--as-of", ahead]) == 0
    assert "application_drafts: 1 would redact or delete" in capsys.readouterr().out
    assert dbsession.get(Application, applications["draft"]) is not None
    with pytest.raises(SystemExit) as refused:
        script.main(["portal.ini", "--as-of", ahead])
    assert refused.value.code == 2


def test_the_job_is_one_of_the_workers_nightly_jobs(wsgi_app):
    from portal.tasks import task_queue

    huey = task_queue(wsgi_app.registry).huey
    assert "retention" in {job.name for job in huey.read_periodic(dt.datetime(2027, 3, 1, 3, 23))}
    assert "retention" not in {
        job.name for job in huey.read_periodic(dt.datetime(2027, 3, 1, 4, 23))
    }


def test_case_notes_and_attachments_go_after_their_period_and_the_case_stays(
    case, dbsession, clock, wsgi_app
):
    from portal.cases.models import Case, CaseAttachment, CaseNote
    from portal.procurement.models import StoredFile

    clock.advance(days=4 * 366)
    assert run_retention(wsgi_app.registry)["case_notes"] == 0
    clock.advance(days=2 * 366)
    assert run_retention(wsgi_app.registry)["case_notes"] == 3
    dbsession.expire_all()
    assert dbsession.get(Case, case).outcome == "approved"
    assert not dbsession.scalars(select(CaseNote)).all()
    assert not dbsession.scalars(select(CaseAttachment)).all()
    assert not dbsession.scalars(select(StoredFile)).all()


def test_a_cancelled_application_is_redacted_as_a_decided_one(ana, dbsession, clock, wsgi_app):
    now = clock.now()
    cancelled = Application(
        service=factories.service(dbsession, "vehicle-registration", department_code="registry"),
        applicant=ana,
        status="cancelled",
        form_json='{"plate": "LJ 555-CC"}',
        decision_reason="Applicant moved abroad, told us by phone",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    cancelled.events = [ApplicationEvent(to_status="cancelled", note="Ana was upset", at=now)]
    dbsession.add(cancelled)
    dbsession.commit()
    clock.advance(days=6 * 366)
    assert run_retention(wsgi_app.registry)["applications"] == 1
    dbsession.expire_all()
    cancelled = dbsession.get(Application, cancelled.id)
    assert cancelled.form == {} and cancelled.decision_reason is None
    assert [event.note for event in cancelled.events] == [""]


@pytest.fixture
def case_file_outside(ana, dbsession, use_store, outside_store):  # noqa: F811 (fixtures)
    """An ended case about Ana whose attachment's bytes are in a store outside the database."""
    from portal.cases.models import Case, CaseAttachment
    from portal.documents.storage import file_key, keep
    from portal.procurement.models import StoredFile

    store = use_store(outside_store)
    now = dt.datetime.now(dt.UTC)
    data = b"%PDF- Ana's passport"
    sha256 = hashlib.sha256(data).hexdigest()
    storage_key, in_row = keep(store, file_key(sha256), data, "application/pdf")
    scan = StoredFile(
        sha256=sha256,
        media_type="application/pdf",
        size=len(data),
        content=in_row,
        storage_key=storage_key,
        created_at=now,
    )
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
    made.attachments = [
        CaseAttachment(file=scan, filename="ana-passport.pdf", uploaded_by=ana, at=now)
    ]
    dbsession.add(made)
    dbsession.commit()
    return store, storage_key


def test_a_case_attachments_bytes_leave_the_store_with_it(
    case_file_outside, dbsession, clock, wsgi_app
):
    from portal.documents.storage import StoredObjectMissing
    from portal.procurement.models import StoredFile

    store, key = case_file_outside
    clock.advance(days=6 * 366)
    # a dry run's transaction is rolled back: the rows and the bytes stay
    assert run_retention(wsgi_app.registry, dry_run=True)["case_notes"] == 1
    assert store.get(key)
    assert run_retention(wsgi_app.registry)["case_notes"] == 1
    dbsession.expire_all()
    assert not dbsession.scalars(select(StoredFile)).all()
    with pytest.raises(StoredObjectMissing):
        store.get(key)


def test_the_clerks_reasons_on_money_decisions_go_after_the_case_notes_period(
    written_off, dbsession, clock, wsgi_app
):
    clock.advance(days=4 * 366)
    assert run_retention(wsgi_app.registry)["decision_notes"] == 0
    assert decision_notes(dbsession, written_off)[0] == "Ana lost her job, her neighbour says"
    clock.advance(days=2 * 366)
    assert run_retention(wsgi_app.registry)["decision_notes"] == 2
    assert decision_notes(dbsession, written_off) == (None, "", None, "approved")
