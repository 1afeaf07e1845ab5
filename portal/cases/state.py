"""The case state machine: the one place that says which changes of state are allowed, each
change recorded with when, by whom and why.

received (opened by a feature) -> in_progress (a clerk claimed it) -> decided (the feature
announced its decision) | closed (a clerk ended it, for work no feature decides, such as a
payment the provider reported oddly). A feature may decide before anyone claimed the case
(a clerk decided the application from its own page): received -> decided.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from portal.cases.models import Case, CaseTransition
from portal.i18n import _, pgettext

RECEIVED = "received"
IN_PROGRESS = "in_progress"
DECIDED = "decided"
CLOSED = "closed"

TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({IN_PROGRESS, DECIDED, CLOSED}),
    IN_PROGRESS: frozenset({DECIDED, CLOSED}),
    DECIDED: frozenset(),
    CLOSED: frozenset(),
}

#: what each state is called on the clerks' pages
LABELS = {
    RECEIVED: _("Received, not claimed"),
    IN_PROGRESS: _("Being handled"),
    DECIDED: _("Decided"),
    CLOSED: _("Closed"),
}

#: what each state is called for the person the case is about (plain words)
PUBLIC_LABELS = {
    RECEIVED: pgettext("case state", "Received"),
    IN_PROGRESS: _("Being handled"),
    DECIDED: _("Decision made"),
    CLOSED: _("Finished"),
}

#: how a case ended, as the clerks' pages say it: the features' decisions (an application's,
#: a complaint's, an approval's) and a tender question answered; a clerk's own closing words,
#: or an outcome no one listed here, are shown as they were written
OUTCOME_LABELS = {
    "approved": pgettext("case outcome", "Approved"),
    "rejected": pgettext("case outcome", "Rejected"),
    "upheld": pgettext("case outcome", "Upheld"),
    "answered": _("Answered"),
    "cancelled": pgettext("case outcome", "Cancelled"),
    "withdrawn": pgettext("case outcome", "Withdrawn"),
    "lapsed": _("Lapsed"),
    "closed": _("Closed"),
    # a bank credit's (portal.billing.matching)
    "assigned": pgettext("case outcome", "Assigned to bills"),
    "returned": pgettext("case outcome", "Returned to the payer"),
}


def outcome_label(translate, outcome: str) -> str:
    """``outcome`` in words: the label of a known decision, else the text itself."""
    label = OUTCOME_LABELS.get(outcome)
    return outcome if label is None else translate(label)


#: still work to do
OPEN = frozenset({RECEIVED, IN_PROGRESS})
ENDED = frozenset({DECIDED, CLOSED})


class IllegalTransition(RuntimeError):
    """A change of state the table does not allow: a bug, never the user's doing."""

    def __init__(self, case: Case, to_state: str):
        super().__init__(f"case {case.public_id}: {case.state} -> {to_state} is not allowed")
        self.from_state = case.state
        self.to_state = to_state


def can_transition(case: Case, to_state: str) -> bool:
    return to_state in TRANSITIONS[case.state]


def transition(
    dbsession,
    case: Case,
    to_state: str,
    cause: str,
    *,
    now: dt.datetime,
    actor=None,
    version: int | None = None,
    **changes,
) -> bool:
    """Move ``case`` to ``to_state`` at ``now`` (with the column ``changes``, such as the
    assignee of a claim), recording it; raise if the table forbids it.

    The row changes only if it is still in the state this request read (and, given
    ``version``, at the version the clerk's page showed), and its version goes up: of two
    requests making a change at once one wins, the other gets False and changes nothing.
    """
    if not can_transition(case, to_state):
        raise IllegalTransition(case, to_state)
    from_state = case.state
    seen = case.version if version is None else version
    dbsession.flush()
    values = {"state": to_state, "version": seen + 1, **changes}
    if to_state in ENDED:
        values.update(open_key=None, ended_at=now)
    changed = dbsession.execute(
        update(Case)
        .where(Case.id == case.id, Case.state == from_state, Case.version == seen)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        dbsession.refresh(case)
        return False
    for name, value in values.items():
        set_committed_value(case, name, value)
    dbsession.add(
        CaseTransition(
            case_id=case.id,
            from_state=from_state,
            to_state=to_state,
            cause=cause[:300],
            actor_id=actor.id if actor is not None else None,
            at=now,
        )
    )
    dbsession.flush()
    dbsession.expire(case, ["assignee", "transitions"])
    return True
