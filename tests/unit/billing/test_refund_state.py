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
