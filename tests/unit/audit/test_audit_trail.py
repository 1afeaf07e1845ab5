"""The audit trail: entries written with the transaction that records them, linked into one
chain that verifies, and whose personal data can be redacted and oldest entries pruned
without verification failing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from portal.audit import (
    AuditError,
    Break,
    prune_before,
    record,
    redact_person,
    redact_personal,
    verify,
)
from portal.audit.models import GENESIS, AuditEntry, AuditHead


def entries(dbsession) -> list[AuditEntry]:
    return list(dbsession.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_an_entry_is_written_when_its_transaction_commits(dbsession):
    record(dbsession, "payment.succeeded", actor_id=7, object=("payment", 42), details={"n": 1})
    assert entries(dbsession) == []

    dbsession.commit()

    [entry] = entries(dbsession)
    assert (entry.action, entry.actor_id, entry.object_type, entry.object_id) == (
        "payment.succeeded",
        7,
        "payment",
        "42",
    )
    assert entry.details == {"n": 1}
    assert entry.prev_hash == GENESIS
    assert dbsession.get(AuditHead, 1).hash == entry.hash


def test_a_rolled_back_transaction_leaves_no_entry(dbsession):
    record(dbsession, "sign_in", actor_id=1)
    dbsession.rollback()
    record(dbsession, "sign_out", actor_id=1)
    dbsession.commit()

    assert [e.action for e in entries(dbsession)] == ["sign_out"]


def test_entries_of_several_transactions_form_one_chain(dbsession):
    for n in range(3):
        record(dbsession, "a.first", details={"n": n})
        record(dbsession, "a.second", details={"n": n}, personal={"name": "Ana Novak"})
        dbsession.commit()

    chain = entries(dbsession)
    assert [e.seq for e in chain] == list(range(1, 7))
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    result = verify(dbsession)
    assert result.ok, result.broken
    assert (result.count, result.head_seq, result.head_hash) == (6, 6, chain[-1].hash)


def test_the_hash_covers_the_personal_digest_not_the_personal_data(dbsession):
    record(dbsession, "person.national_id_viewed", personal={"national_id": "0101990500007"})
    dbsession.commit()
    [entry] = entries(dbsession)
    assert entry.personal_digest is not None
    assert "0101990500007" not in entry.personal_digest

    dbsession.execute(text("UPDATE audit_entry SET personal = NULL"))
    dbsession.commit()

    assert verify(dbsession).ok


@pytest.mark.parametrize(
    ("statement", "seq", "problem"),
    [
        ("UPDATE audit_entry SET action = 'x.y' WHERE seq = 2", 2, "altered"),
        ("UPDATE audit_entry SET details = '{\"n\": 9}' WHERE seq = 2", 2, "altered"),
        (
            'UPDATE audit_entry SET personal = \'{"name": "Eve"}\' WHERE seq = 2',
            2,
            "personal data does not match",
        ),
        ("DELETE FROM audit_entry WHERE seq = 2", 2, "entry 2 missing"),
        ("DELETE FROM audit_entry WHERE seq = 3", 3, "entry 3 missing"),
        ("DELETE FROM audit_entry WHERE seq = 1", 1, "entry 1 missing"),
    ],
)
def test_verify_finds_the_first_broken_link(dbsession, statement, seq, problem):
    for n in range(3):
        record(dbsession, "a.b", details={"n": n}, personal={"name": f"P{n}"})
        dbsession.commit()

    with_triggers_off(dbsession)
    dbsession.execute(text(statement))

    result = verify(dbsession)
    assert result.broken is not None
    assert result.broken.seq == seq
    assert problem in result.broken.problem


def with_triggers_off(dbsession) -> None:
    """Tampering as the database's owner would: PostgreSQL's triggers off for the transaction."""
    if dbsession.get_bind().dialect.name == "postgresql":
        dbsession.execute(text("SET LOCAL session_replication_role = replica"))


def test_the_orm_refuses_to_change_or_delete_an_entry(dbsession):
    record(dbsession, "a.b", personal={"name": "Ana"})
    dbsession.commit()
    [entry] = entries(dbsession)

    entry.action = "c.d"
    with pytest.raises(AuditError):
        dbsession.flush()
    dbsession.rollback()

    dbsession.delete(entry)
    with pytest.raises(AuditError):
        dbsession.flush()
    dbsession.rollback()

    entry.personal = None
    dbsession.flush()
    assert verify(dbsession).ok


def test_redacting_by_time_keeps_the_chain_verifying(dbsession, wsgi_app):
    record(dbsession, "a.old", personal={"name": "Ana"})
    dbsession.commit()
    cut = entries(dbsession)[0].occurred_at + dt.timedelta(microseconds=1)
    record(dbsession, "a.new", personal={"name": "Bor"})
    dbsession.commit()

    assert redact_personal(dbsession, cut) == 1
    dbsession.commit()

    old, new, redacted = entries(dbsession)
    assert (old.personal, new.personal) == (None, {"name": "Bor"})
    assert (redacted.action, redacted.details["count"]) == ("audit.redacted", 1)
    assert verify(dbsession).ok


def test_redacting_a_person_clears_entries_by_and_about_them(dbsession):
    record(dbsession, "a.by", actor_id=5, personal={"name": "Ana"})
    record(dbsession, "a.about", subject_id=5, personal={"name": "Ana"})
    record(dbsession, "a.other", actor_id=6, personal={"name": "Bor"})
    dbsession.commit()

    assert redact_person(dbsession, 5) == 2
    dbsession.commit()

    assert [e.personal for e in entries(dbsession)][:3] == [None, None, {"name": "Bor"}]
    assert verify(dbsession).ok


def test_pruning_the_oldest_entries_is_not_tampering(dbsession, clock):
    for n in range(4):
        record(dbsession, "a.b", details={"n": n})
        dbsession.commit()
    chain = entries(dbsession)
    cut = chain[2].occurred_at
    clock.advance(days=400)

    assert prune_before(dbsession, cut) == 2
    dbsession.commit()

    remaining = entries(dbsession)
    assert [e.seq for e in remaining] == [3, 4, 5]
    assert remaining[-1].action == "audit.pruned"
    head = dbsession.get(AuditHead, 1)
    assert (head.pruned_seq, head.pruned_hash) == (2, chain[1].hash)
    result = verify(dbsession)
    assert result.ok, result.broken
    assert result.count == 3

    with_triggers_off(dbsession)
    dbsession.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    assert verify(dbsession).broken.seq == 3


def test_pruning_keeps_entries_younger_than_the_minimum_age(dbsession, clock):
    for n in range(3):
        record(dbsession, "a.b", details={"n": n})
    dbsession.commit()
    clock.advance(days=364)

    assert prune_before(dbsession, clock.now()) == 0
    dbsession.commit()

    assert [e.seq for e in entries(dbsession)] == [1, 2, 3]
    assert verify(dbsession).ok


def empty_the_log_as_if_pruned(dbsession) -> tuple[int, str]:
    """Move the pruning checkpoint onto the head and delete every entry, with SQL (which the
    triggers let through: the checkpoint names an entry by its seq and hash)."""
    dbsession.execute(text("UPDATE audit_head SET pruned_seq = seq, pruned_hash = hash"))
    dbsession.execute(text("DELETE FROM audit_entry"))
    head = dbsession.get(AuditHead, 1, populate_existing=True)
    return head.pruned_seq, head.pruned_hash


def test_a_checkpoint_no_pruning_recorded_is_tampering(dbsession):
    for n in range(3):
        record(dbsession, "a.b", details={"n": n})
    dbsession.commit()

    empty_the_log_as_if_pruned(dbsession)
    dbsession.commit()

    result = verify(dbsession)
    assert result.broken == Break(3, "entries deleted: no audit.pruned entry names the checkpoint")


def test_a_pruning_of_young_entries_is_tampering_even_when_recorded(dbsession, clock):
    for n in range(3):
        record(dbsession, "a.b", details={"n": n})
    dbsession.commit()
    clock.advance(days=30)

    through, through_hash = empty_the_log_as_if_pruned(dbsession)
    record(
        dbsession,
        "audit.pruned",
        details={
            "before": clock.now().isoformat(),
            "through_seq": through,
            "through_hash": through_hash,
            "count": 3,
        },
    )
    dbsession.commit()

    assert verify(dbsession).broken == Break(4, "pruned entries younger than 365 days")


def test_an_entry_cannot_be_recorded_once_the_entries_are_written(dbsession):
    record(dbsession, "a.b")

    from sqlalchemy import event

    def late(session):
        record(session, "a.late")

    event.listen(dbsession, "before_commit", late)
    with pytest.raises(AuditError):
        dbsession.commit()
