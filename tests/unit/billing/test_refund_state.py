"""The refund state machine: the table of allowed changes and the row each change leaves."""

import datetime as dt

import pytest

from portal.billing import state
from portal.billing.models import Refund


def a_refund() -> Refund:
    return Refund(public_id="f" * 32, status=state.REFUND_REQUESTED, transitions=[])


NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("outcome", [state.REFUND_SUCCEEDED, state.REFUND_FAILED])
def test_a_requested_refund_ends_once_recording_when_and_why(outcome):
    refund = a_refund()
    state.transition_refund(refund, outcome, "the provider answered", NOW)
    assert refund.status == outcome
    (row,) = refund.transitions
    assert (row.from_status, row.to_status, row.cause) == (
        state.REFUND_REQUESTED,
        outcome,
        "the provider answered",
    )
    assert row.at == NOW
    for again in (state.REFUND_SUCCEEDED, state.REFUND_FAILED, state.REFUND_REQUESTED):
        with pytest.raises(state.IllegalTransition, match=f"{outcome} -> {again}"):
            state.transition_refund(refund, again, "twice", NOW)
    assert len(refund.transitions) == 1


def test_every_refund_status_has_a_label_and_reaches_only_statuses_in_the_table():
    assert set(state.REFUND_LABELS) == set(state.REFUND_TRANSITIONS)
    for targets in state.REFUND_TRANSITIONS.values():
        assert targets <= set(state.REFUND_TRANSITIONS)
    assert set(state.REFUND_TRANSITIONS) >= state.REFUND_RESERVING


@pytest.mark.parametrize("decision", [state.REFUND_REQUESTED, state.REFUND_REJECTED])
def test_a_refund_awaiting_approval_is_sent_or_rejected_once(decision):
    refund = Refund(public_id="e" * 32, status=state.REFUND_AWAITING_APPROVAL, transitions=[])
    state.transition_refund(refund, decision, "decided by user 7", NOW)
    (row,) = refund.transitions
    assert (row.from_status, row.to_status) == (state.REFUND_AWAITING_APPROVAL, decision)
    with pytest.raises(state.IllegalTransition):
        state.transition_refund(refund, state.REFUND_AWAITING_APPROVAL, "again", NOW)


def test_a_refund_awaiting_approval_reserves_its_money_and_a_rejected_one_does_not():
    assert state.REFUND_AWAITING_APPROVAL in state.REFUND_RESERVING
    assert state.REFUND_REJECTED not in state.REFUND_RESERVING
