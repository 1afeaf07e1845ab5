"""The clerks' side: a department's queue of paid applications, and deciding one.

Approving issues the certificate (numbered in the decision, rendered and signed once it is
committed); rejecting needs a reason and refunds the fee (sent to the provider once the
decision is committed).
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.applications import state
from portal.applications.certificates import issue_certificate
from portal.applications.models import Application
from portal.applications.views import application_values
from portal.applications.workflow import (
    CANNOT,
    cancel_paid,
    decide_approve,
    decide_reject,
    pending_decision,
    refund_awaiting_approval,
)
from portal.audit import record_request
from portal.catalogue.models import Service
from portal.documents.kinds import document_issuer
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.pii import masked, national_id_of
from portal.refusals import CONFLICT, INVALID, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

MAX_REASON = 2000
QUEUE_SHOWN = 500
#: the lists a clerk can look at; the queue proper is the first
QUEUE_STATUSES = (
    state.IN_QUEUE,
    state.AWAITING_PAYMENT,
    state.APPROVED,
    state.REJECTED,
    state.CANCELLED,
)


def _of_department(department_id: int):
    return select(Application).join(Service).where(Service.department_id == department_id)


@view_config(
    route_name="backoffice_applications",
    renderer="applications/queue.jinja2",
    permission="work",
    assurance=CLERK,
)
def queue(context, request):
    department = context.department
    status = request.GET.get("status", state.IN_QUEUE)
    if status not in QUEUE_STATUSES:
        status = state.IN_QUEUE
    rows = request.dbsession.scalars(
        _of_department(department.id)
        .where(Application.status == status)
        .order_by(Application.submitted_at, Application.id)
        .limit(QUEUE_SHOWN)
    )
    translate = request.localizer.translate
    return {
        "department": department,
        "status": status,
        "statuses": [(code, translate(state.LABELS[code])) for code in QUEUE_STATUSES],
        "applications": list(rows),
    }


def _page(request, context, errors=None, typed=None, reveal=False):
    """The clerk's page of an application. The applicant's national identifier is masked
    unless the clerk asked to see it (:func:`reveal_national_id`)."""
    values = application_values(request, context.application)
    national_id = national_id_of(request, context.application.applicant)
    values.update(
        for_clerk=True,
        can_decide=context.application.status == state.IN_QUEUE
        and not refund_awaiting_approval(context.application),
        pending_decision=pending_decision(request.dbsession, context.application),
        national_id=national_id if reveal else masked(national_id),
        revealed=reveal,
        errors=errors or {},
        typed=typed or {},
    )
    return render_to_response(
        "applications/review.jinja2", values, request=request, response=request.response
    )


def _refused(request, context, refused: Refusal, typed: str = ""):
    """The page again with why the decision was refused, by the field the clerk got wrong
    (``refused``'s), and what they ``typed`` there: better than an error page, which would
    lose it."""
    field = refused.errors[0].field
    return _page(request, context, form_refused(request, refused), {field: typed})


@view_config(
    route_name="backoffice_application", request_method="GET", permission="review", assurance=CLERK
)
def review(context, request):
    return _page(request, context)


@view_config(
    route_name="backoffice_application_national_id",
    request_method="POST",
    permission="review",
    assurance=CLERK,
)
def reveal_national_id(context, request):
    """Show the applicant's national identifier in full, on purpose (a POST with CSRF, never a
    link a crawler or a prefetch could follow), and keep a line saying who looked."""
    application = context.application
    log.info(
        "national identifier of the applicant of application %s shown to user=%s",
        application.public_id,
        request.user.id,
    )
    record_request(
        request,
        "person.national_id_viewed",
        subject_id=application.applicant_id,
        object=("application", application.public_id),
        personal={"name": application.applicant.display_name},
    )
    return _page(request, context, reveal=True)


def _back(request, application: Application):
    return HTTPSeeOther(
        request.route_url("backoffice_application", application=application.public_id)
    )


@view_config(
    route_name="backoffice_application_approve",
    request_method="POST",
    permission="decide",
    assurance=CLERK,
)
def approve(context, request):
    application = context.application
    if application.status != state.IN_QUEUE:
        raise Refusal(
            CONFLICT,
            _("Only a paid application waiting in the queue can be decided."),
            title=CANNOT,
        )
    note = request.POST.get("note", "").strip()
    if len(note) > MAX_REASON:
        return _refused(
            request,
            context,
            Refusal(INVALID, _("Keep the note under 2000 characters."), field="note"),
            note[:MAX_REASON],
        )
    decide_approve(request.dbsession, application, request.user, note, request.clock.now())
    certificate = issue_certificate(
        document_issuer(request.registry), request.dbsession, application, request.clock.now()
    )
    log.info("application %s approved: %s", application.public_id, certificate.number)
    request.session.flash(
        request.localizer.translate(
            _("Approved. Certificate ${number} issued.", mapping={"number": certificate.number})
        )
    )
    return _back(request, application)


@view_config(
    route_name="backoffice_application_reject",
    request_method="POST",
    permission="decide",
    assurance=CLERK,
)
def reject(context, request):
    application = context.application
    if application.status != state.IN_QUEUE:
        raise Refusal(
            CONFLICT,
            _("Only a paid application waiting in the queue can be decided."),
            title=CANNOT,
        )
    reason = request.POST.get("reason", "").strip()
    translate = request.localizer.translate
    if not reason:
        return _refused(
            request,
            context,
            Refusal(INVALID, _("Give the reason for the rejection."), field="reason"),
        )
    if len(reason) > MAX_REASON:
        return _refused(
            request,
            context,
            Refusal(INVALID, _("Keep the reason under 2000 characters."), field="reason"),
            reason,
        )
    try:
        approval = decide_reject(
            request.dbsession, application, request.user, reason, request.clock.now()
        )
    except Refusal as refused:
        log.warning(
            "refund for application %s refused: %s",
            application.public_id,
            refused.message.interpolate(),
        )
        raise Refusal(refused.kind, refused.message, title=CANNOT) from None
    if approval is not None:
        request.session.flash(
            translate(
                _(
                    "Rejection asked for. A second clerk of the department must approve it "
                    "before the applicant is told and the fee is refunded."
                )
            )
        )
        return _back(request, application)
    log.info("application %s rejected", application.public_id)
    request.session.flash(
        translate(_("Rejected. The applicant is told why and the fee is refunded."))
    )
    return _back(request, application)


@view_config(
    route_name="backoffice_application_cancel",
    request_method="POST",
    permission="decide",
    assurance=CLERK,
)
def cancel(context, request):
    """Cancel a paid application and refund its fee; above the department's threshold a
    second clerk approves it first."""
    application = context.application
    reason = request.POST.get("cancel_reason", "").strip()
    if not reason:
        return _refused(
            request,
            context,
            Refusal(INVALID, _("Give the reason for the cancellation."), field="cancel_reason"),
        )
    if len(reason) > MAX_REASON:
        return _refused(
            request,
            context,
            Refusal(INVALID, _("Keep the reason under 2000 characters."), field="cancel_reason"),
            reason,
        )
    approval = cancel_paid(
        request.dbsession, application, request.user, reason, request.clock.now()
    )
    translate = request.localizer.translate
    if approval is None:
        request.session.flash(translate(_("Cancelled. The fee is refunded to the applicant.")))
    else:
        request.session.flash(
            translate(
                _(
                    "Cancellation asked for. A second clerk of the department must approve it "
                    "before the fee is refunded."
                )
            )
        )
    return _back(request, application)
