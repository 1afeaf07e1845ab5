"""Four-eyes: a money decision above its department's threshold (a refund, a write-off, a paid
application's cancellation) is asked for by one clerk and approved or rejected by another
clerk of the same department, never by the one who asked (who may only withdraw it).

One mechanism for every kind: the request is an :class:`ApprovalRequest` row, opened here and
decided here, and the rules are checked here (and the database refuses a decision by the person
who asked, whichever way it arrives: a second session or the API is the same person). What a
decision does to the thing it is about is the kind's business: each kind registers itself
(``config.add_approval_kind``) with what to do when its requests are decided.

The threshold is a setting per department (``billing.four_eyes.threshold.<department code>``,
else ``billing.four_eyes.threshold``, as ``EUR 100.00``): an internal control of the office,
not a price the payer sees, so it sits with the settings rather than in the fee schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol, cast

from pyramid.i18n import TranslationString
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit import record
from portal.billing.models import ApprovalRequest, Bill, Payment, Refund
from portal.db import registry_of
from portal.i18n import _, pgettext
from portal.identity.models import Department
from portal.localized import in_every_language
from portal.money import Money, MoneyError
from portal.refusals import CONFLICT, FORBIDDEN, INVALID, Refusal
from portal.settings import SettingsError

AWAITING = "awaiting"
APPROVED = "approved"
REJECTED = "rejected"
#: taken back by the clerk who asked, before anyone decided
WITHDRAWN = "withdrawn"

TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING: frozenset({APPROVED, REJECTED, WITHDRAWN}),
    APPROVED: frozenset(),
    REJECTED: frozenset(),
    WITHDRAWN: frozenset(),
}

LABELS = {
    AWAITING: _("Awaiting approval"),
    APPROVED: pgettext("approval state", "Approved"),
    REJECTED: pgettext("approval state", "Rejected"),
    WITHDRAWN: pgettext("approval state", "Withdrawn"),
}

#: when no setting names one: high, so that only a department that chose a threshold asks
DEFAULT_THRESHOLD = Money(1000_00, "EUR")
SETTING = "billing.four_eyes.threshold"
MAX_REASON = 2000

#: the heading of every refused request about an approval
CANNOT = _("This cannot be done")

_KINDS = "portal.approval_kinds"


class ApprovalKind(Protocol):
    """What one kind of request is and what its decision does."""

    code: str
    #: what the clerks' pages call it ("Refund", "Write-off"...)
    label: TranslationString

    def requested(self, dbsession: Session, approval: ApprovalRequest) -> None:
        """Announce the new request (the kind's own event)."""

    def decided(self, dbsession: Session, approval: ApprovalRequest, now: dt.datetime) -> None:
        """Carry out the decision just recorded on ``approval`` and announce it."""

    def subject_path(self, request, approval: ApprovalRequest) -> str | None:
        """The clerk's page of what the request is about, if there is one."""


def add_approval_kind(config, kind: ApprovalKind) -> None:
    """``config.add_approval_kind(kind)``: requests of ``kind.code`` are decided by ``kind``."""
    config.registry.setdefault(_KINDS, {})[kind.code] = kind


def approval_kind(registry, code: str) -> ApprovalKind:
    return registry[_KINDS][code]


def parse_threshold(text: str) -> Money:
    """``EUR 100.00`` as money; a ValueError if it is not that."""
    currency, _space, amount = text.strip().partition(" ")
    try:
        return Money.parse(amount.strip(), currency.upper())
    except (MoneyError, ArithmeticError) as error:
        raise ValueError(f"{SETTING}: {text!r} is not like 'EUR 100.00'") from error


def check_thresholds(settings) -> None:
    """Refuse to start with a threshold setting that is not an amount (rather than fail on
    the first refund)."""
    for name, text in settings.items():
        if name == SETTING or name.startswith(SETTING + "."):
            try:
                parse_threshold(str(text))
            except ValueError as error:
                raise SettingsError(str(error)) from None


def threshold(settings, department_code: str) -> Money:
    """The amount above which ``department_code``'s money decisions need a second clerk."""
    text = settings.get(f"{SETTING}.{department_code}") or settings.get(SETTING)
    return parse_threshold(text) if text else DEFAULT_THRESHOLD


def needs_approval(settings, department: Department, amount: Money) -> bool:
    """Whether ``amount`` is above ``department``'s threshold (an amount in another currency
    than the threshold's cannot be compared, so it always needs a second clerk)."""
    limit = threshold(settings, department.code)
    return amount.currency != limit.currency or amount.minor > limit.minor


def read_reason(text: str, field: str = "reason") -> str:
    """A reason as typed, trimmed; empty if there is none (each caller says what is missing).
    A reason too long is refused as the form's ``field``, for the form to show it there."""
    reason = text.strip()
    if len(reason) > MAX_REASON:
        raise Refusal(
            INVALID, _("Keep the reason under 2000 characters."), title=CANNOT, field=field
        )
    return reason


def open_approval(
    dbsession: Session,
    *,
    kind: str,
    department: Department,
    subject: str,
    describe: Callable[[str], str],
    amount: Money,
    reason: str,
    clerk,
    now: dt.datetime,
) -> ApprovalRequest:
    """Record ``clerk``'s request for a second clerk to approve ``kind`` on ``subject`` and
    announce it. Only a person can ask (a service's API key is nobody's second pair of eyes).
    ``describe(locale)`` writes what is to be approved in each language, for the clerks who
    read it in theirs (the default language's is the record)."""
    if clerk is None:
        raise Refusal(
            FORBIDDEN,
            _("Only a clerk signed in as themselves can ask for an approval."),
            title=CANNOT,
        )
    pending = dbsession.scalar(
        select(ApprovalRequest.id).where(
            ApprovalRequest.kind == kind,
            ApprovalRequest.subject == subject,
            ApprovalRequest.status == AWAITING,
        )
    )
    if pending is not None:
        raise Refusal(
            CONFLICT, _("This is already waiting for a second clerk's approval."), title=CANNOT
        )
    description, translations = in_every_language(describe)
    approval = ApprovalRequest(
        kind=kind,
        department=department,
        subject=subject,
        description=description,
        description_translations=translations,
        amount_minor=amount.minor,
        currency=amount.currency,
        reason=reason,
        requested_by_id=clerk.id,
        requested_at=now,
        status=AWAITING,
    )
    dbsession.add(approval)
    # the unique index on open requests backs the look above against a concurrent request
    dbsession.flush()
    record(
        dbsession,
        "approval.requested",
        actor_id=clerk.id,
        subject_id=payer_of(dbsession, approval),
        object=("approval_request", approval.public_id),
        details=_audited(approval),
        personal={"reason": reason},
    )
    approval_kind(registry_of(dbsession), kind).requested(dbsession, approval)
    return approval


def payer_of(dbsession: Session, approval: ApprovalRequest) -> int | None:
    """The person ``approval`` is about, the subject of its audit entries (so that their
    erasure redacts the reasons recorded there): the payer of the bill or of the refund's
    payment it names; None for an organisation's bill."""
    bill = select(Bill.payer_user_id).where(Bill.public_id == approval.subject)
    refund = (
        select(Payment.payer_user_id)
        .join(Refund, Refund.payment_id == Payment.id)
        .where(Refund.public_id == approval.subject)
    )
    return dbsession.scalar(bill.union_all(refund).limit(1))


def _audited(approval: ApprovalRequest) -> dict:
    """What the audit trail keeps of a request (no personal data: the reason goes apart)."""
    return {
        "kind": approval.kind,
        "department_id": approval.department_id,
        "subject": approval.subject,
        "amount_minor": approval.amount_minor,
        "currency": approval.currency,
    }


def check_decider(approval: ApprovalRequest, decider) -> None:
    """Whether ``decider`` may decide ``approval``: a person (the user, whatever session or
    channel they come through), not the one who asked, a clerk of its department, and the
    request still open. The first rule that fails is the refusal."""
    if decider is None:
        raise Refusal(
            FORBIDDEN, _("Only a clerk signed in as themselves can decide this."), title=CANNOT
        )
    if decider.id == approval.requested_by_id:
        raise Refusal(
            FORBIDDEN,
            _(
                "You asked for this yourself. Another clerk of the department must approve "
                "or reject it."
            ),
            title=CANNOT,
        )
    if approval.department_id not in decider.department_ids:
        raise Refusal(
            FORBIDDEN,
            _(
                "Only a clerk of ${department} can decide this request.",
                mapping={"department": approval.department.name},
            ),
            title=CANNOT,
        )
    if approval.status != AWAITING:
        raise Refusal(
            CONFLICT,
            _("This request was already decided by another clerk."),
            title=CANNOT,
        )


def decide(
    dbsession: Session,
    approval: ApprovalRequest,
    decider,
    approve: bool,
    note: str,
    now: dt.datetime,
) -> None:
    """Record ``decider``'s decision on ``approval`` and carry it out. A rejection needs a
    reason (``note``); an approval may have one.

    The decision is claimed with an UPDATE of the row only while it is still awaiting, so of
    two clerks deciding at once one wins and the other is told (on PostgreSQL the second
    UPDATE waits for the first to commit, then finds nothing left to claim)."""
    check_decider(approval, decider)
    note = read_reason(note, "note")
    if not approve and not note:
        raise Refusal(
            INVALID, _("Give the reason for rejecting the request."), title=CANNOT, field="note"
        )
    status = APPROVED if approve else REJECTED
    dbsession.flush()
    claimed = run_update(
        dbsession,
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id == approval.id,
            ApprovalRequest.status == AWAITING,
            ApprovalRequest.requested_by_id != decider.id,
        )
        .values(status=status, decided_by_id=decider.id, decided_at=now, decision_note=note or None)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        dbsession.refresh(approval)
        raise Refusal(
            CONFLICT, _("This request was already decided by another clerk."), title=CANNOT
        )
    for name, value in (
        ("status", status),
        ("decided_by_id", decider.id),
        ("decided_at", now),
        ("decision_note", note or None),
    ):
        set_committed_value(approval, name, value)
    dbsession.expire(approval, ["decided_by"])
    record(
        dbsession,
        f"approval.{status}",
        actor_id=decider.id,
        subject_id=payer_of(dbsession, approval),
        object=("approval_request", approval.public_id),
        details={**_audited(approval), "requested_by_id": approval.requested_by_id},
        personal={"note": note} if note else None,
    )
    approval_kind(registry_of(dbsession), approval.kind).decided(dbsession, approval, now)
    dbsession.flush()


def withdraw(dbsession: Session, approval: ApprovalRequest, clerk, now: dt.datetime) -> None:
    """``clerk``, who asked for ``approval``, takes it back while it still awaits a decision:
    what it was about is dropped as a rejection would drop it (reserved money is free again)
    and its end is announced as a decision is. Without this, a department whose only other
    clerk is away would hold the money until they come back.

    Claimed as :func:`decide` claims a decision, so a withdrawal and a second clerk's
    decision at the same moment cannot both happen: whichever comes second is told."""
    if clerk is None or clerk.id != approval.requested_by_id:
        raise Refusal(
            FORBIDDEN, _("Only the clerk who asked for this can withdraw it."), title=CANNOT
        )
    if approval.status != AWAITING:
        raise Refusal(
            CONFLICT, _("This request was already decided by another clerk."), title=CANNOT
        )
    dbsession.flush()
    claimed = run_update(
        dbsession,
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id == approval.id,
            ApprovalRequest.status == AWAITING,
            ApprovalRequest.requested_by_id == clerk.id,
        )
        .values(status=WITHDRAWN, decided_at=now)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        dbsession.refresh(approval)
        raise Refusal(
            CONFLICT, _("This request was already decided by another clerk."), title=CANNOT
        )
    set_committed_value(approval, "status", WITHDRAWN)
    set_committed_value(approval, "decided_at", now)
    record(
        dbsession,
        "approval.withdrawn",
        actor_id=clerk.id,
        subject_id=payer_of(dbsession, approval),
        object=("approval_request", approval.public_id),
        details=_audited(approval),
    )
    approval_kind(registry_of(dbsession), approval.kind).decided(dbsession, approval, now)
    dbsession.flush()


def run_update(dbsession: Session, statement) -> int:
    """How many rows ``statement`` (an UPDATE) changed."""
    return cast(CursorResult, dbsession.execute(statement)).rowcount


def awaiting_for(dbsession: Session, department_ids) -> list[ApprovalRequest]:
    """The open requests of these departments, oldest first."""
    if not department_ids:
        return []
    return list(
        dbsession.scalars(
            select(ApprovalRequest)
            .where(
                ApprovalRequest.department_id.in_(list(department_ids)),
                ApprovalRequest.status == AWAITING,
            )
            .order_by(ApprovalRequest.requested_at, ApprovalRequest.id)
        )
    )


def awaiting_on(dbsession: Session, kind: str, subject: str) -> ApprovalRequest | None:
    """The open request about ``subject``, if there is one."""
    return dbsession.scalar(
        select(ApprovalRequest).where(
            ApprovalRequest.kind == kind,
            ApprovalRequest.subject == subject,
            ApprovalRequest.status == AWAITING,
        )
    )
