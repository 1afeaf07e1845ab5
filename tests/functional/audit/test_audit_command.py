"""``portal-audit verify`` finds the first broken link of the chain after someone edits or
deletes an entry with SQL; ``portal-audit anchor`` and the daily job log the chain's head."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, text

from portal.audit import prune_before, record
from portal.audit.anchor import daily_anchor
from portal.audit.models import AuditEntry
from portal.scripts.audit import main
from portal.tasks import task_queue


def three_entries(in_transaction) -> None:
    for n in range(3):
        with in_transaction() as dbsession:
            record(dbsession, "payment.succeeded", object=("payment", n), details={"n": n})


def tamper(engine, statement: str) -> None:
    """Change the log behind the application's back, as the database's owner could (on
    PostgreSQL with the append-only triggers switched off for the transaction)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement))


def test_verify_reports_the_count_and_head_of_an_intact_chain(in_transaction, ini_file, capsys):
    three_entries(in_transaction)

    assert main(["verify", ini_file]) == 0

    out = capsys.readouterr().out
    with in_transaction() as dbsession:
        head = dbsession.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 3))
    assert f"audit chain OK: 3 entries, head 3:{head}" in out


def test_verify_finds_a_row_edited_with_sql(in_transaction, ini_file, engine, capsys):
    three_entries(in_transaction)
    tamper(engine, "UPDATE audit_entry SET object_id = '99' WHERE seq = 2")

    assert main(["verify", ini_file]) == 1

    out = capsys.readouterr().out
    assert "audit chain broken at seq 2: content does not match its hash" in out


def test_verify_finds_a_row_deleted_with_sql(in_transaction, ini_file, engine, capsys):
    three_entries(in_transaction)
    tamper(engine, "DELETE FROM audit_entry WHERE seq = 2")

    assert main(["verify", ini_file]) == 1

    assert "audit chain broken at seq 2: entry 2 missing" in capsys.readouterr().out


def test_verify_finds_the_last_row_deleted(in_transaction, ini_file, engine, capsys):
    three_entries(in_transaction)
    tamper(engine, "DELETE FROM audit_entry WHERE seq = 3")

    assert main(["verify", ini_file]) == 1

    assert "audit chain broken at seq 3: entry 3 missing" in capsys.readouterr().out


def test_a_chain_rewritten_after_an_anchor_no_longer_contains_it(
    in_transaction, ini_file, engine, capsys
):
    three_entries(in_transaction)
    assert main(["anchor", ini_file]) == 0
    anchored = capsys.readouterr().out.split()[-1]
    assert main(["verify", ini_file, "--anchor", anchored]) == 0
    capsys.readouterr()

    seq = anchored.split(":")[0]
    tamper(engine, f"UPDATE audit_entry SET hash = '{'f' * 64}' WHERE seq = {seq}")

    assert main(["verify", ini_file, "--anchor", anchored]) != 0


def test_the_daily_anchor_runs_shortly_after_midnight_utc(wsgi_app):
    huey = task_queue(wsgi_app.registry).huey

    def due(hour: int, minute: int) -> set[str]:
        return {job.name for job in huey.read_periodic(dt.datetime(2026, 12, 6, hour, minute))}

    assert "daily_anchor" in due(0, 5)
    assert "daily_anchor" not in due(0, 6) | due(12, 5)


def test_the_daily_anchor_logs_the_head_and_records_it(wsgi_app, in_transaction, caplog):
    three_entries(in_transaction)

    with caplog.at_level(logging.INFO, logger="portal.audit.anchor"):
        daily_anchor(wsgi_app.registry)

    with in_transaction() as dbsession:
        head = dbsession.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 3))
        last = dbsession.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        assert (last.action, last.details) == ("audit.anchor", {"seq": 3, "hash": head})
    assert f"audit chain anchor: seq=3 hash={head}" in caplog.text


def test_verify_says_what_was_pruned_and_when(in_transaction, ini_file, clock, capsys):
    three_entries(in_transaction)
    clock.advance(days=400)
    with in_transaction() as dbsession:
        assert prune_before(dbsession, clock.now() - dt.timedelta(days=366)) == 3

    assert main(["verify", ini_file]) == 0

    today = clock.now().astimezone(dt.UTC)
    cut = today - dt.timedelta(days=366)
    assert (
        f"entries 1-3 pruned on {today:%Y-%m-%d}: those that occurred before {cut:%Y-%m-%d} "
        "(UTC; entry 4)" in capsys.readouterr().out
    )


def test_verify_fails_when_every_entry_was_deleted_as_if_pruned(
    in_transaction, ini_file, engine, capsys
):
    three_entries(in_transaction)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_head SET pruned_seq = seq, pruned_hash = hash"))
        connection.execute(text("DELETE FROM audit_entry"))

    assert main(["verify", ini_file]) == 1

    assert (
        "audit chain broken at seq 3: entries deleted: no audit.pruned entry names the checkpoint"
        in capsys.readouterr().out
    )


def hashes(in_transaction) -> dict[int, str]:
    with in_transaction() as dbsession:
        return dict(dbsession.execute(select(AuditEntry.seq, AuditEntry.hash)).all())


def test_an_anchor_whose_entry_was_pruned_is_reported_and_fails(
    in_transaction, ini_file, clock, capsys
):
    three_entries(in_transaction)
    chain = hashes(in_transaction)
    clock.advance(days=400)
    with in_transaction() as dbsession:
        assert prune_before(dbsession, clock.now() - dt.timedelta(days=399)) == 3
    capsys.readouterr()

    assert main(["verify", ini_file, "--anchor", f"2:{chain[2]}"]) == 3
    assert (
        f"the anchor 2:{chain[2]} names a pruned entry: it cannot be checked, check a later one"
        in capsys.readouterr().out
    )
    # the checkpoint still carries the hash of the last entry pruned
    assert main(["verify", ini_file, "--anchor", f"3:{chain[3]}"]) == 0
    assert main(["verify", ini_file, "--anchor", f"3:{chain[2]}"]) == 2


def test_an_anchor_the_chain_does_not_reach_is_not_contained(in_transaction, ini_file, capsys):
    three_entries(in_transaction)

    assert main(["verify", ini_file, "--anchor", f"9:{'a' * 64}"]) == 2

    assert f"audit chain does not contain the anchor 9:{'a' * 64}" in capsys.readouterr().out
