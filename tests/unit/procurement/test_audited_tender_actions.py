"""A tender's actions are audited under what was done (published, bids opened, awarded,
contract recorded, cancelled, amended) with who did it; the clock's moves between phases
are not (they follow from the published deadlines)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.audit import verify
from portal.audit.models import AuditEntry
from portal.procurement import state
from portal.procurement.amendments import record_amendment
from portal.procurement.tenders import cancel_tender
from tests import factories

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def audited(dbsession) -> list[AuditEntry]:
    dbsession.commit()
    return list(dbsession.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_publishing_and_cancelling_are_audited_with_the_buyer(dbsession):
    tender = factories.tender(dbsession, now=NOW)
    buyer = factories.user(dbsession, "buyer-bruno")
    cancel_tender(dbsession, tender, actor=buyer, reason="Budget withdrawn", now=NOW)

    entries = audited(dbsession)
    assert [(e.action, e.actor_id, e.object_id) for e in entries] == [
        ("tender.published", buyer.id, tender.reference),
        ("tender.cancelled", buyer.id, tender.reference),
    ]
    assert entries[1].details == {"from": "questions"}
    assert verify(dbsession).ok


@pytest.mark.parametrize(
    ("from_status", "to_status", "action"),
    [
        (state.AWAITING_OPENING, state.OPENED, "tender.bids_opened"),
        (state.EVALUATION, state.STANDSTILL, "tender.awarded"),
        (state.STANDSTILL, state.EVALUATION, "tender.evaluation"),
        (state.CONTRACTING, state.COMPLETE, "tender.contract_recorded"),
        (state.EVALUATION, state.UNSUCCESSFUL, "tender.unsuccessful"),
        (state.QUESTIONS, state.BIDDING, None),
        (state.BIDDING, state.AWAITING_OPENING, None),
    ],
)
def test_each_action_is_audited_and_the_clocks_moves_are_not(
    dbsession, from_status, to_status, action
):
    tender = factories.tender(dbsession, now=NOW)
    clerk = factories.user(dbsession, "clerk-clara")
    tender.status = from_status
    dbsession.flush()
    before = len(audited(dbsession))

    assert state.transition(dbsession, tender, to_status, now=NOW, actor=clerk)

    added = audited(dbsession)[before:]
    expected = [] if action is None else [(action, clerk.id, tender.reference)]
    assert [(e.action, e.actor_id, e.object_id) for e in added] == expected


def test_an_amendment_is_audited_with_the_fields_it_changed(dbsession, wsgi_app):
    tender = factories.tender(dbsession, now=NOW)
    buyer = factories.user(dbsession, "buyer-bruno")
    record_amendment(
        dbsession,
        tender,
        [{"field": "description", "before": "old", "after": "new"}],
        reason="Clarified the scope",
        actor=buyer,
        now=NOW,
        timezone=ZoneInfo("Europe/Ljubljana"),
        settings=wsgi_app.registry.settings,
    )

    last = audited(dbsession)[-1]
    assert (last.action, last.actor_id, last.object_id) == (
        "tender.amended",
        buyer.id,
        tender.reference,
    )
    assert last.details == {"version": tender.version, "fields": ["description"]}
