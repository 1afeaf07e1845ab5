"""What happens to an application: drafts, submission (a bill is issued), the fee paid (billing
announces it), and a clerk's decision (a certificate, or the fee refunded)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from pyramid.i18n import TranslationString
from sqlalchemy import select

from portal.applications import events, state
from portal.applications.events import (
    CancellationApprovalDecided,
    CancellationApprovalRequested,
    RejectionApprovalDecided,
    RejectionApprovalRequested,
)
from portal.applications.models import Application, ApplicationEvent
from portal.audit import record
from portal.billing import (
    APPROVED,
    AWAITING,
    OVERPAID,
    PAID,
    REFUND_AWAITING_APPROVAL,
    cancel_bill,
    carry_out_refund_decision,
    issue_bill,
    refund_bill_as_clerk,
    with_status,
)
from portal.billing.events import PaymentSucceeded, RefundSucceeded
from portal.billing.models import ApprovalRequest, Refund
from portal.catalogue.interfaces import APPLICATION, public_services
from portal.catalogue.models import Service
from portal.clock import Clock, clock
from portal.db import registry_of
from portal.i18n import _
from portal.identity.models import Department
from portal.refusals import CONFLICT, UNAVAILABLE, Refusal

log = logging.getLogger(__name__)

#: days the citizen has to pay an application's fee
PAYMENT_DAYS = 30


#: the heading of every refused request about an application
CANNOT = _("This cannot be done")


def application_services(registry) -> dict:
    """The catalogue's services that are applied for (and approved by a clerk)."""
    return {
        code: service
        for code, service in public_services(registry).items()
        if service.info.kind == APPLICATION
    }


def service_record(dbsession, info) -> Service:
    """The catalogue row of a registered service, made the first time it is applied for."""
    record = dbsession.scalar(select(Service).where(Service.code == info.code))
    if record is not None:
        return record
    department = dbsession.scalar(select(Department).where(Department.code == info.department_code))
    if department is None:
        raise Refusal(
            UNAVAILABLE,
            _("This service is not open yet: its office is not set up."),
            title=CANNOT,
        )
    record = Service(code=info.code, name=info.name.interpolate(), department=department)
    dbsession.add(record)
    dbsession.flush()
    return record


def start_draft(
    dbsession, service: Service, applicant, values: dict[str, str], now: dt.datetime
) -> Application:
    application = Application(
        service=service, applicant=applicant, status=state.DRAFT, created_at=now, updated_at=now
    )
    application.form = values
    application.events.append(
        ApplicationEvent(to_status=state.DRAFT, actor_id=applicant.id, at=now)
    )
    dbsession.add(application)
    dbsession.flush()
    return application


def save_draft(application: Application, values: dict[str, str], now: dt.datetime) -> None:
    if application.status not in state.EDITABLE:
        raise Refusal(
            CONFLICT,
            _("This application was submitted and can no longer change."),
            title=CANNOT,
        )
    application.form = values
    application.updated_at = now


def submit(dbsession, plugin, application: Application, cleaned: dict[str, str], clock: Clock):
    """Issue the bill for ``application`` at the fee in force on ``clock``'s day and await
    payment."""
    today = clock.today()
    if application.status not in state.EDITABLE:
        raise Refusal(CONFLICT, _("This application was already submitted."), title=CANNOT)
    try:
        lines = plugin.fee(dbsession, cleaned, today)
    except LookupError:
        log.error("no fee in force for %s on %s", plugin.info.code, today)
        raise Refusal(
            UNAVAILABLE,
            _("The fee for this service is not set yet. Your draft is kept; try again later."),
            title=CANNOT,
        ) from None
    application.form = cleaned
    application.submitted_at = clock.now()
    bill = issue_bill(
        dbsession,
        service=application.service,
        number=f"APP-{application.id:08d}",
        description=plugin.info.name,
        due_date=today + dt.timedelta(days=PAYMENT_DAYS),
        lines=lines,
        payer_user=application.applicant,
    )
    application.bill = bill
    if not state.transition(
        dbsession,
        application,
        state.AWAITING_PAYMENT,
        "",
        actor=application.applicant,
        now=application.submitted_at,
    ):
        raise Refusal(CONFLICT, _("This application was already submitted."), title=CANNOT)
    return bill


def queue_paid_applications(event: PaymentSucceeded) -> None:
    """Move the applications whose bill ``event``'s payment settled into their department's
    queue, in the payment's own transaction: however the payment was settled (notification,
    status query, the periodic job, the API), the application is in the queue when it commits.
    """
    dbsession, payment = event.dbsession, event.payment
    registry = registry_of(dbsession)
    applied_for = application_services(registry)
    fees = [a.bill_id for a in payment.allocations if a.bill.service.code in applied_for]
    if not fees:  # no application fee among them (billing loads bills and services with it)
        return
    now = clock(registry).now()
    waiting = list(
        dbsession.scalars(
            select(Application).where(
                Application.bill_id.in_(fees),
                Application.status == state.AWAITING_PAYMENT,
            )
        )
    )
    for application, view in zip(
        waiting, with_status(dbsession, [a.bill for a in waiting]), strict=True
    ):
        if view.status in (PAID, OVERPAID) and state.transition(
            dbsession, application, state.IN_QUEUE, "", now=now, at=payment.settled_at
        ):
            events.announce(events.ApplicationQueued(application, dbsession))


def close_rejected_bill(event: RefundSucceeded) -> None:
    """Cancel the bill of a rejected application once its fee's refund is confirmed.

    A refund makes a bill owed again (see :func:`portal.billing.request_refund`); the fee
    of a rejected application is not owed, so its bill is cancelled in the refund's own
    transaction, which leaves the payer's account and the service's revenue both back at zero.
    """
    dbsession, refund = event.dbsession, event.refund
    application = dbsession.scalar(select(Application).where(Application.refund_id == refund.id))
    if application is None or application.bill is None or application.bill.cancelled_at:
        return
    cancel_bill(
        dbsession,
        application.bill,
        "Application rejected; the fee was refunded",
        clock(registry_of(dbsession)).now(),
    )
    log.info(
        "bill %s of rejected application %s cancelled", application.bill_id, application.public_id
    )


#: the kinds of approval request a paid application's cancellation, or rejection, above the
#: threshold is: either refunds the fee, so either is a money decision for two clerks
CANCELLATION = "application_cancellation"
REJECTION = "application_rejection"

#: how the fee's refund is explained, before the clerk's reason
CANCELLED_BECAUSE = "Application cancelled: "
REJECTED_BECAUSE = "Application rejected: "


def pending_decision(dbsession, application: Application) -> str | None:
    """The kind of decision on ``application`` (:data:`CANCELLATION` or :data:`REJECTION`)
    waiting for a second clerk's approval, if one is; its refund is recorded awaiting it."""
    refund = application.refund
    if refund is None or refund.status != REFUND_AWAITING_APPROVAL:
        return None
    return dbsession.scalar(
        select(ApprovalRequest.kind).where(
            ApprovalRequest.subject == refund.public_id,
            ApprovalRequest.status == AWAITING,
            # not the approval of the refund's account (portal.billing.bank_refunds)
            ApprovalRequest.kind.in_((CANCELLATION, REJECTION)),
        )
    )


def refund_awaiting_approval(application: Application) -> bool:
    """Whether a clerk asked to cancel or reject ``application`` and a second clerk has not
    decided (its fee's refund is reserved, not on its way)."""
    refund = application.refund
    return refund is not None and refund.status == REFUND_AWAITING_APPROVAL


def refuse_if_decision_pending(dbsession, application: Application) -> None:
    pending = pending_decision(dbsession, application)
    if pending == REJECTION:
        raise Refusal(
            CONFLICT,
            _(
                "A rejection of this application is waiting for a second clerk's approval. "
                "It must be decided first."
            ),
            title=CANNOT,
        )
    if pending is not None:
        raise Refusal(
            CONFLICT,
            _(
                "A cancellation of this application is waiting for a second clerk's approval. "
                "It must be decided first."
            ),
            title=CANNOT,
        )


def _refuse_unless_queued(application: Application) -> None:
    if application.status != state.IN_QUEUE:
        raise Refusal(
            CONFLICT, _("Another clerk decided this application meanwhile."), title=CANNOT
        )


def _refund_fee(dbsession, application: Application, clerk, reason: str, kind: str):
    """Refund ``application``'s fee as ``clerk`` (at once within the threshold, else awaiting
    an approval request of ``kind``): (refund, approval request), either None."""
    if application.bill is None:
        return None, None
    refund, approval = refund_bill_as_clerk(dbsession, application.bill, reason, clerk, kind=kind)
    application.refund = refund
    return refund, approval


def cancel_paid(dbsession, application: Application, clerk, reason: str, now: dt.datetime):
    """``clerk`` cancels a paid application waiting in the queue, refunding its fee: at once
    within the department's four-eyes threshold (returns None), else once a second clerk
    approves (returns the approval request; the application stays in the queue, its fee
    reserved)."""
    if application.status != state.IN_QUEUE:
        raise Refusal(
            CONFLICT,
            _("Only a paid application waiting in the queue can be cancelled."),
            title=CANNOT,
        )
    refuse_if_decision_pending(dbsession, application)
    _refund, approval = _refund_fee(
        dbsession, application, clerk, CANCELLED_BECAUSE + reason, CANCELLATION
    )
    if approval is not None:
        registry_of(dbsession).notify(
            CancellationApprovalRequested(approval, dbsession, application)
        )
        log.info(
            "cancellation of application %s awaits approval %s",
            application.public_id,
            approval.public_id,
        )
        return approval
    _cancel(dbsession, application, clerk, reason, now)
    return None


def _cancel(dbsession, application: Application, clerk, reason: str, now: dt.datetime) -> None:
    if not state.transition(dbsession, application, state.CANCELLED, reason, clerk, now=now):
        raise Refusal(
            CONFLICT, _("Another clerk decided this application meanwhile."), title=CANNOT
        )
    application.decided_by = clerk
    application.decision_reason = reason
    # a cancellation is the application's decision too: its case in the work queue ends
    events.announce(events.ApplicationDecided(application, dbsession))
    log.info("application %s cancelled", application.public_id)


class HeldDecisionApproval:
    """A clerk's decision on a paid application that refunds its fee above the threshold:
    held, the application in the queue, until a second clerk approves it. The request's
    subject is the fee's refund, recorded awaiting approval."""

    code: str
    label: TranslationString
    #: makes the decision once approved: (dbsession, application, clerk, reason, now), the
    #: reason being the refund's
    carry_out: Callable[..., None]
    #: the kind's own event, with the application
    decided_event: type[CancellationApprovalDecided] | type[RejectionApprovalDecided]

    def _application(self, dbsession, approval) -> Application | None:
        return dbsession.scalar(
            select(Application)
            .join(Refund, Application.refund_id == Refund.id)
            .where(Refund.public_id == approval.subject)
        )

    def requested(self, dbsession, approval) -> None:
        """Announced by the decision (:func:`cancel_paid`, :func:`decide_reject`) once the
        application holds its refund."""

    def decided(self, dbsession, approval, now: dt.datetime) -> None:
        application = self._application(dbsession, approval)
        if application is None:
            raise LookupError(approval.subject)
        if approval.status == APPROVED and application.status != state.IN_QUEUE:
            raise Refusal(
                CONFLICT, _("Another clerk decided this application meanwhile."), title=CANNOT
            )
        carry_out_refund_decision(dbsession, approval, now)
        if approval.status == APPROVED:
            self.carry_out(dbsession, application, approval.decided_by, approval.reason, now)
        else:
            application.refund = None
        registry_of(dbsession).notify(self.decided_event(approval, dbsession, application))

    def subject_path(self, request, approval) -> str | None:
        # a rejected request's application no longer holds the refund it was about
        application = self._application(request.dbsession, approval)
        if application is None:
            return None
        return request.route_path("backoffice_application", application=application.public_id)


def _reject_as_approved(dbsession, application, clerk, reason: str, now: dt.datetime) -> None:
    # the applicant reads the first clerk's reason, not the refund's
    _reject(dbsession, application, clerk, reason.removeprefix(REJECTED_BECAUSE), now)


class CancellationApproval(HeldDecisionApproval):
    """A clerk's cancellation of a paid application whose fee is above the threshold."""

    code = CANCELLATION
    label = _("Cancellation of a paid application")
    carry_out = staticmethod(_cancel)
    decided_event = CancellationApprovalDecided


class RejectionApproval(HeldDecisionApproval):
    """A clerk's rejection of a paid application whose fee is above the threshold: it refunds
    as a cancellation does, so it is held the same way (the applicant still sees the
    application in the queue, no refund promised) until the second clerk decides."""

    code = REJECTION
    label = _("Rejection of a paid application")
    carry_out = staticmethod(_reject_as_approved)
    decided_event = RejectionApprovalDecided


def decide_approve(dbsession, application: Application, clerk, note: str, now: dt.datetime) -> None:
    refuse_if_decision_pending(dbsession, application)
    if not state.transition(dbsession, application, state.APPROVED, note, clerk, now=now):
        raise Refusal(
            CONFLICT, _("Another clerk decided this application meanwhile."), title=CANNOT
        )
    application.decided_by = clerk
    application.decision_reason = note or None
    _record_decision(dbsession, application, clerk, "application.approved")
    events.announce(events.ApplicationDecided(application, dbsession))


def _record_decision(dbsession, application: Application, clerk, action: str) -> None:
    """Audit a decision; its note or reason may name people, so it is kept redactable."""
    record(
        dbsession,
        action,
        actor_id=clerk.id,
        subject_id=application.applicant_id,
        object=("application", application.public_id),
        personal={"reason": application.decision_reason} if application.decision_reason else None,
    )


def decide_reject(dbsession, application: Application, clerk, reason: str, now: dt.datetime):
    """Reject with ``reason`` and refund what is left of the fee: at once within the
    department's four-eyes threshold (sent after commit; returns None), else held until a
    second clerk approves, as a cancellation is (returns the approval request; the
    application stays in the queue, its fee reserved). Rejecting refunds as cancelling does,
    so it needs the same second pair of eyes."""
    refuse_if_decision_pending(dbsession, application)
    _refuse_unless_queued(application)
    refund, approval = _refund_fee(
        dbsession, application, clerk, REJECTED_BECAUSE + reason, REJECTION
    )
    if approval is not None:
        registry_of(dbsession).notify(RejectionApprovalRequested(approval, dbsession, application))
        log.info(
            "rejection of application %s awaits approval %s",
            application.public_id,
            approval.public_id,
        )
        return approval
    _reject(dbsession, application, clerk, reason, now)
    if refund is None:
        log.warning("application %s rejected with no fee to refund", application.public_id)
    return None


def _reject(dbsession, application: Application, clerk, reason: str, now: dt.datetime) -> None:
    if not state.transition(dbsession, application, state.REJECTED, reason, clerk, now=now):
        raise Refusal(
            CONFLICT, _("Another clerk decided this application meanwhile."), title=CANNOT
        )
    application.decided_by = clerk
    application.decision_reason = reason
    _record_decision(dbsession, application, clerk, "application.rejected")
    events.announce(events.ApplicationDecided(application, dbsession))
