"""The case state machine's table: work is claimed, then decided or closed, and nothing moves
a case that has ended."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.cases import state
from portal.cases.models import Case


def case_in(state_: str) -> Case:
    return Case(public_id="c" * 32, state=state_, version=0)


def test_open_cases_may_be_claimed_decided_or_closed():
    assert state.can_transition(case_in(state.RECEIVED), state.IN_PROGRESS)
    assert state.can_transition(case_in(state.RECEIVED), state.DECIDED)
    assert state.can_transition(case_in(state.IN_PROGRESS), state.CLOSED)
    assert not state.can_transition(case_in(state.IN_PROGRESS), state.RECEIVED)


@pytest.mark.parametrize("ended", sorted(state.ENDED))
def test_an_ended_case_never_moves_again(ended):
    for to in state.TRANSITIONS:
        assert not state.can_transition(case_in(ended), to)
    with pytest.raises(state.IllegalTransition):
        state.transition(None, case_in(ended), state.IN_PROGRESS, "", now=dt.datetime.now(dt.UTC))


def test_every_state_has_a_label_for_clerks_and_one_in_plain_words():
    assert set(state.LABELS) == set(state.PUBLIC_LABELS) == set(state.TRANSITIONS)
    assert set(state.TRANSITIONS) == state.OPEN | state.ENDED
