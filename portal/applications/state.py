"""The application state machine: the one place that says which changes of state are allowed.

draft -> awaiting_payment (submitted, a bill issued) -> in_queue (the fee was paid) ->
approved (a certificate issued) | rejected (the fee refunded) | cancelled (by a clerk, the fee
refunded; above the department's four-eyes threshold only once a second clerk approved it).
Every change is kept as an
:class:`~portal.applications.models.ApplicationEvent`, which is the history the citizen sees.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from portal.applications.models import Application, ApplicationEvent
from portal.i18n import _, pgettext

DRAFT = "draft"
AWAITING_PAYMENT = "awaiting_payment"
IN_QUEUE = "in_queue"
APPROVED = "approved"
REJECTED = "rejected"
CANCELLED = "cancelled"

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({AWAITING_PAYMENT}),
    AWAITING_PAYMENT: frozenset({IN_QUEUE}),
    IN_QUEUE: frozenset({APPROVED, REJECTED, CANCELLED}),
    APPROVED: frozenset(),
    REJECTED: frozenset(),
    CANCELLED: frozenset(),
}

#: what each state is called on the citizen's and the clerk's pages
LABELS = {
    DRAFT: _("Draft"),
    AWAITING_PAYMENT: _("Submitted, awaiting payment"),
    IN_QUEUE: _("Paid, waiting for a clerk"),
    APPROVED: pgettext("application state", "Approved"),
    REJECTED: pgettext("application state", "Rejected"),
    CANCELLED: pgettext("application state", "Cancelled"),
}

#: what each step of the history says happened
EVENTS = {
    DRAFT: _("Draft saved"),
    AWAITING_PAYMENT: _("Submitted; the fee is to be paid"),
    IN_QUEUE: _("Fee paid; the application is in the clerk's queue"),
    APPROVED: _("Approved; the certificate is issued"),
    REJECTED: _("Rejected; the fee is refunded"),
    CANCELLED: _("Cancelled; the fee is refunded"),
}

#: the citizen may still change these
EDITABLE = frozenset({DRAFT})
#: a clerk has decided
DECIDED = frozenset({APPROVED, REJECTED, CANCELLED})


class IllegalTransition(RuntimeError):
    def __init__(self, application: Application, to_status: str):
        super().__init__(
            f"application {application.public_id}: {application.status} -> {to_status} "
            "is not allowed"
        )
        self.from_status = application.status
        self.to_status = to_status


def can_transition(application: Application, to_status: str) -> bool:
    return to_status in TRANSITIONS[application.status]


def transition(
    dbsession,
    application: Application,
    to_status: str,
    note: str = "",
    actor=None,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
) -> bool:
    """Move ``application`` to ``to_status`` and record it (``note``: what a person wrote,
    such as a clerk's reason) at ``now`` (or at ``at``, when it happened earlier); raise if
    the table forbids it.

    The row is changed only if it is still in the state this request read, so two requests
    making the same change at once record it once: the one that lost gets False.
    """
    if not can_transition(application, to_status):
        raise IllegalTransition(application, to_status)
    from_status = application.status
    dbsession.flush()
    changed = dbsession.execute(
        update(Application)
        .where(Application.id == application.id, Application.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        dbsession.refresh(application)
        return False
    set_committed_value(application, "status", to_status)
    set_committed_value(application, "updated_at", now)
    dbsession.add(
        ApplicationEvent(
            application_id=application.id,
            from_status=from_status,
            to_status=to_status,
            note=note[:2000],
            actor_id=actor.id if actor is not None else None,
            at=at or now,
        )
    )
    dbsession.flush()
    return True
