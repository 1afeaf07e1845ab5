"""The application state table."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.applications import state
from portal.applications.models import Application


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (state.DRAFT, state.APPROVED),
        (state.DRAFT, state.IN_QUEUE),
        (state.AWAITING_PAYMENT, state.APPROVED),
        (state.AWAITING_PAYMENT, state.REJECTED),
        (state.APPROVED, state.REJECTED),
        (state.REJECTED, state.IN_QUEUE),
    ],
)
def test_transitions_outside_the_table_are_refused(start, to):
    application = Application(status=start, public_id="x" * 32)
    with pytest.raises(state.IllegalTransition):
        state.transition(None, application, to, now=dt.datetime.now(dt.UTC))
    assert application.status == start


def test_every_state_has_labels_and_a_row():
    assert set(state.TRANSITIONS) == set(state.LABELS) == set(state.EVENTS)
    for targets in state.TRANSITIONS.values():
        assert targets <= set(state.TRANSITIONS)
