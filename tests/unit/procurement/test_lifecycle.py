"""The tender lifecycle's table, publication and the clock moving a tender on."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.procurement import state
from portal.procurement.sealing import unlock_share
from portal.refusals import Refusal
from tests import factories

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_publication_gives_each_member_a_share_and_keeps_no_private_key(dbsession):
    from portal.procurement.committee_keys import unlock_committee_key
    from portal.procurement.sealing import EncryptedShare
    from portal.procurement.tenders import committee_key_of

    tender = factories.tender(dbsession, now=NOW)

    assert tender.status == state.QUESTIONS
    assert tender.reference == "T-2027-000001"
    assert tender.version == 1 and len(tender.public_key) == 32
    assert [(t.from_status, t.to_status, t.cause) for t in tender.transitions] == [
        ("draft", "questions", "published")
    ]
    seat = tender.committee[0]
    member_key = unlock_committee_key(
        committee_key_of(dbsession, seat.member).sealed_private_key, "correct horse battery staple"
    )
    share = unlock_share(
        EncryptedShare(str(seat.member_id), seat.encrypted_share), tender.reference, member_key
    )
    assert share.member_id == str(seat.member_id)


def test_an_incomplete_tender_is_not_published(dbsession):
    from portal.procurement.tenders import publish

    tender = factories.tender(dbsession, now=NOW, published=False, members=("clerk-clara",))
    with pytest.raises(Refusal) as refused:
        publish(dbsession, tender, actor=tender.created_by, now=NOW)
    assert [e.field for e in refused.value.errors] == ["committee"]
    assert tender.status == state.DRAFT and tender.public_key is None


def test_the_clock_moves_a_tender_on_and_the_deadline_is_strict(dbsession):
    tender = factories.tender(dbsession, now=NOW)
    deadline = tender.bids_until

    state.advance(dbsession, tender, tender.questions_until - dt.timedelta(seconds=1))
    assert tender.status == state.QUESTIONS
    state.advance(dbsession, tender, tender.questions_until)
    assert tender.status == state.BIDDING
    assert state.accepts_bids(tender, deadline - dt.timedelta(seconds=1))
    assert not state.accepts_bids(tender, deadline)
    state.advance(dbsession, tender, deadline)
    assert tender.status == state.AWAITING_OPENING
    assert [t.to_status for t in tender.transitions][-2:] == ["bidding", "awaiting_opening"]
    assert all(t.actor_id is None for t in tender.transitions[-2:])

    with pytest.raises(state.IllegalTransition):
        state.transition(dbsession, tender, state.QUESTIONS, now=deadline)


def test_a_late_job_records_both_periods_ending_in_order(dbsession):
    tender = factories.tender(dbsession, now=NOW)
    late = tender.bids_until + dt.timedelta(days=1)

    assert state.due_status(tender, late) == state.AWAITING_OPENING
    state.advance(dbsession, tender, late)

    assert [(t.from_status, t.to_status) for t in tender.transitions] == [
        ("draft", "questions"),
        ("questions", "bidding"),
        ("bidding", "awaiting_opening"),
    ]
