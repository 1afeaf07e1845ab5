"""The retention job: what is past its time under the policy is redacted or deleted, and the
run is recorded (counts per kind in the log and in an audit entry).

What it never touches, whatever the policy says: journal entries (the ledger's balances are
its sums), payments, refunds and receipts (kept whole: a receipt's signature covers its bytes
and ``/verify`` reads its row), and the audit trail except through the audit trail's own
redaction and pruning (:mod:`portal.audit.retention`), which keep its chain verifying. The
run is an audit entry too, with its counts. A person's account row is never
deleted: kept records point at it, so it is made unidentifiable instead
(:mod:`portal.privacy.people`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import Delete, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from portal.applications.models import Application, ApplicationEvent
from portal.applications.state import DECIDED, DRAFT
from portal.audit import prune_before, record, redact_personal
from portal.billing.models import ApprovalRequest, Bill, Payment
from portal.cases.models import Case, CaseAttachment, CaseNote
from portal.clock import clock
from portal.db import Base, registry_of
from portal.documents.storage import document_store, forget_after_commit
from portal.identity.models import SamlAssertionUse, SamlPendingRequest, User, WebSession
from portal.privacy import people
from portal.privacy.policy import (
    APPLICATION_DRAFTS,
    APPLICATIONS,
    AUDIT,
    AUDIT_PERSONAL,
    CASE_NOTES,
    NATIONAL_IDS,
    PAYMENTS,
    SESSIONS,
    RetentionPolicy,
)
from portal.procurement.models import StoredFile
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)

#: what a redacted application's answers become
NO_ANSWERS = "{}"


def retention_policy(registry: Registry) -> RetentionPolicy:
    return registry["privacy.policy"]


def apply_retention(dbsession: Session, policy: RetentionPolicy, now: dt.datetime) -> Counter[str]:
    """Redact or delete every record past its time at ``now``; returns how many, by kind.
    The caller's transaction decides whether it stays (a dry run rolls it back)."""
    done: Counter[str] = Counter()
    done[SESSIONS] = _sessions(dbsession, policy[SESSIONS].before(now))
    done[APPLICATION_DRAFTS] = _drafts(dbsession, policy[APPLICATION_DRAFTS].before(now))
    done[APPLICATIONS] = _decided_applications(dbsession, policy[APPLICATIONS].before(now))
    done[CASE_NOTES] = _case_notes(dbsession, policy[CASE_NOTES].before(now))
    done["decision_notes"] = _decision_notes(dbsession, policy[CASE_NOTES].before(now))
    done[NATIONAL_IDS] = _national_ids(dbsession, policy[NATIONAL_IDS].before(now))
    done["profiles"] = _forgotten_people(dbsession, policy[PAYMENTS].before(now))
    done[AUDIT_PERSONAL] = redact_personal(dbsession, policy[AUDIT_PERSONAL].before(now))
    done[AUDIT] = prune_before(dbsession, policy[AUDIT].before(now))
    record(dbsession, "privacy.retention", details={"counts": dict(sorted(done.items()))})
    dbsession.flush()
    return done


def _sessions(dbsession: Session, before: dt.datetime) -> int:
    """Sessions, pending sign-ins and used assertions not used since ``before`` (the identity
    job removes them sooner, when they expire; this is the policy's upper bound)."""
    statements: tuple[Delete, ...] = (
        delete(WebSession).where(WebSession.last_seen_at < before),
        delete(SamlPendingRequest).where(SamlPendingRequest.created_at < before),
        delete(SamlAssertionUse).where(SamlAssertionUse.expires_at < before),
    )
    return sum(people.deleted(dbsession, statement) for statement in statements)


def _drafts(dbsession: Session, before: dt.datetime) -> int:
    """Applications never submitted and left since ``before``: deleted with their history."""
    drafts = dbsession.scalars(
        select(Application).where(
            Application.status == DRAFT,
            Application.bill_id.is_(None),
            Application.updated_at < before,
        )
    ).all()
    for draft in drafts:
        dbsession.delete(draft)
    return len(drafts)


def _decided_applications(dbsession: Session, before: dt.datetime) -> int:
    """Applications that ended (approved, rejected or cancelled) before ``before``: the
    applicant's answers and the notes on their history are redacted; the row stays (its bill,
    refund and certificate point at it)."""
    ids = list(
        dbsession.scalars(
            select(Application.id).where(
                Application.status.in_(DECIDED),
                Application.updated_at < before,
                or_(
                    Application.form_json != NO_ANSWERS,
                    Application.decision_reason.is_not(None),
                    exists().where(
                        ApplicationEvent.application_id == Application.id,
                        ApplicationEvent.note != "",
                    ),
                ),
            )
        )
    )
    if ids:
        dbsession.execute(
            update(Application)
            .where(Application.id.in_(ids))
            .values(form_json=NO_ANSWERS, decision_reason=None),
            execution_options={"synchronize_session": False},
        )
        dbsession.execute(
            update(ApplicationEvent)
            .where(ApplicationEvent.application_id.in_(ids))
            .values(note=""),
            execution_options={"synchronize_session": False},
        )
    return len(ids)


def _case_notes(dbsession: Session, before: dt.datetime) -> int:
    """Notes and attachments of cases that ended before ``before``: deleted (the case, its
    history and its outcome stay), with the stored files nothing else uses any more, their
    bytes in the documents' store too once the deletion is committed."""
    ended = select(Case.id).where(Case.ended_at < before)
    file_ids = set(
        dbsession.scalars(select(CaseAttachment.file_id).where(CaseAttachment.case_id.in_(ended)))
    )
    count = people.deleted(dbsession, delete(CaseNote).where(CaseNote.case_id.in_(ended)))
    count += people.deleted(
        dbsession, delete(CaseAttachment).where(CaseAttachment.case_id.in_(ended))
    )
    unused = [file_id for file_id in file_ids if not _file_used(dbsession, file_id)]
    if unused:
        keys = {
            key
            for key in dbsession.scalars(
                select(StoredFile.storage_key).where(StoredFile.id.in_(unused))
            )
            if key is not None
        }
        dbsession.execute(delete(StoredFile).where(StoredFile.id.in_(unused)))
        # files are content-addressed: a key another row still names keeps its bytes
        keys -= set(
            dbsession.scalars(
                select(StoredFile.storage_key).where(StoredFile.storage_key.in_(keys))
            )
        )
        forget_after_commit(dbsession, document_store(registry_of(dbsession)), keys)
    return count


def _decision_notes(dbsession: Session, before: dt.datetime) -> int:
    """The clerks' free-text reasons on money decisions taken before ``before`` (kept as long
    as case notes, being notes of the same kind): why a bill was written off, why a second
    clerk's approval was asked and what they noted deciding. The decisions stay."""
    count = people.changed(
        dbsession,
        update(Bill)
        .where(Bill.written_off_at < before, Bill.write_off_reason.is_not(None))
        .values(write_off_reason=None),
    )
    return count + people.changed(
        dbsession,
        update(ApprovalRequest)
        .where(
            ApprovalRequest.decided_at < before,
            or_(ApprovalRequest.reason != "", ApprovalRequest.decision_note.is_not(None)),
        )
        .values(reason="", decision_note=None),
    )


def _file_used(dbsession: Session, file_id: int) -> bool:
    """Whether any row of any table (tender documents, complaints, opened bids...) still
    names stored file ``file_id``: files are stored once however often they are attached."""
    for table in Base.metadata.tables.values():
        for key in table.foreign_keys:
            if (
                key.column.table.name == StoredFile.__tablename__
                and dbsession.execute(
                    select(key.parent).where(key.parent == file_id).limit(1)
                ).first()
            ):
                return True
    return False


def _last_seen(user=User):
    return func.coalesce(user.last_login_at, user.created_at)


def _national_ids(dbsession: Session, before: dt.datetime) -> int:
    """National identifiers of people not signed in since ``before``, unless a bill in their
    name is still open (the next import would not find them)."""
    candidates = dbsession.scalars(
        select(User).where(User.national_id_encrypted.is_not(None), _last_seen() < before)
    ).all()
    cleared = 0
    for user in candidates:
        if people.open_bills(dbsession, user):
            continue
        user.national_id_hash = None
        user.national_id_encrypted = None
        cleared += 1
    return cleared


def _forgotten_people(dbsession: Session, before: dt.datetime) -> int:
    """People with nothing newer than ``before`` (the payments period): not signed in, no
    bill issued, no payment made since. Their records are kept as the law says; they are made
    unidentifiable in them."""
    recent_bill = exists().where(Bill.payer_user_id == User.id, Bill.issued_at >= before)
    recent_payment = exists().where(Payment.payer_user_id == User.id, Payment.created_at >= before)
    candidates = dbsession.scalars(
        select(User).where(
            User.idp_entity_id != people.ERASED,
            _last_seen() < before,
            ~recent_bill,
            ~recent_payment,
        )
    ).all()
    forgotten = 0
    for user in candidates:
        if people.open_bills(dbsession, user):
            continue
        people.anonymise(dbsession, user)
        forgotten += 1
    return forgotten


class _DryRun(Exception):
    """Leaves a dry run's transaction by rolling it back."""


def run_retention(
    registry: Registry, dry_run: bool = False, as_of: dt.datetime | None = None
) -> Counter[str]:
    """One run in its own transaction at the app's clock; a dry run counts and changes nothing,
    and may look ahead (``as_of``: what would go by then)."""
    if as_of is not None and not dry_run:
        raise ValueError("only a dry run may look ahead: a real run goes by the clock")
    now = as_of or clock(registry).now()
    done: Counter[str] = Counter()
    try:
        with task_dbsession(registry) as dbsession:
            done = apply_retention(dbsession, retention_policy(registry), now)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(done.items()))
    log.info("retention %s: %s", "dry run, would redact or delete" if dry_run else "run", summary)
    return done


@periodic_task(crontab(minute="23", hour="3"))
def retention(registry: Registry) -> Counter[str]:
    """Every night: what is past its time goes."""
    return run_retention(registry)
