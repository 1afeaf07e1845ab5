"""Clerk pages of four-eyes approvals: the requests awaiting a second clerk in one's
departments, one request with who asked, what and why, and approving or rejecting it.

Whoever asked sees the request and a way to withdraw it, but none to decide it; a decision
they send anyway (a second session, the API) is refused by
:func:`portal.billing.approvals.decide`, as is one by a clerk of another department or on a
request already decided.
"""

from __future__ import annotations

import logging
import re

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from portal.billing import approvals
from portal.billing.models import ApprovalRequest
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import Department
from portal.refusals import INVALID, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: C0 and C1 control characters bar tab and line breaks, DEL, and the halves of surrogate
#: pairs (a JSON string may hold one alone, which no database can store)
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: how many decided requests of one's departments the list shows under the open ones
DECIDED_SHOWN = 20


def _departments_of(request) -> list[int]:
    return list(request.user.department_ids)


def _status_labels(request) -> dict[str, str]:
    """Each status's label in the page's language (a template printing the message itself
    would print its English)."""
    return {code: request.localizer.translate(label) for code, label in approvals.LABELS.items()}


@view_config(
    route_name="backoffice_approvals",
    renderer="billing/backoffice/approvals.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def awaiting(request):
    """The requests of one's departments waiting for a second clerk, oldest first, and the
    latest decided ones."""
    departments = _departments_of(request)
    decided = []
    if departments:
        decided = list(
            request.dbsession.scalars(
                select(ApprovalRequest)
                .where(
                    ApprovalRequest.department_id.in_(departments),
                    ApprovalRequest.status != approvals.AWAITING,
                )
                .order_by(ApprovalRequest.decided_at.desc(), ApprovalRequest.id.desc())
                .limit(DECIDED_SHOWN)
            )
        )
    return {
        "awaiting": approvals.awaiting_for(request.dbsession, departments),
        "decided": decided,
        "departments": list(
            request.dbsession.scalars(select(Department).where(Department.id.in_(departments)))
        ),
        "kind_label": lambda code: request.localizer.translate(
            approvals.approval_kind(request.registry, code).label
        ),
        "status_label": _status_labels(request),
    }


@view_config(
    route_name="backoffice_approval",
    request_method="GET",
    renderer="billing/backoffice/approval.jinja2",
    permission="work",
    assurance=CLERK,
)
def approval_page(context, request):
    return _page_values(request, context.approval)


def _page_values(request, approval: ApprovalRequest, errors=None, typed=None) -> dict:
    """The request's page; ``errors`` by field id (``approve-note``, ``reject-note``) and
    the notes ``typed`` by the same ids when a decision's note was refused."""
    kind = approvals.approval_kind(request.registry, approval.kind)
    return {
        "approval": approval,
        "kind_label": request.localizer.translate(kind.label),
        "subject_path": kind.subject_path(request, approval),
        "own": approval.requested_by_id == request.user.id,
        "status_label": _status_labels(request),
        "errors": errors or {},
        "typed": typed or {},
    }


def _decision(context, request, approve: bool):
    approval = context.approval
    note = request.POST.get("note", "")
    try:
        approvals.decide(
            request.dbsession, approval, request.user, approve, note, request.clock.now()
        )
    except Refusal as refused:
        if not refused.errors:
            raise  # not the note's fault (one's own request, already decided): the error page
        # both forms' fields are named "note": the error goes by the one sent's field id
        field = "approve-note" if approve else "reject-note"
        errors = {field: form_refused(request, refused)["note"]}
        return _page_values(request, approval, errors, {field: note})
    log.info(
        "approval request %s (%s) %s by user=%s",
        approval.public_id,
        approval.kind,
        approval.status,
        request.user.id,
    )
    request.session.flash(
        request.localizer.translate(
            _("Approved. It is carried out now.")
            if approve
            else _("Rejected. Nothing was done, and the money is free again.")
        )
    )
    return HTTPSeeOther(request.route_url("backoffice_approval", approval=approval.public_id))


@view_config(
    route_name="backoffice_approval_approve",
    request_method="POST",
    renderer="billing/backoffice/approval.jinja2",
    permission="decide",
    assurance=CLERK,
)
def approve(context, request):
    return _decision(context, request, approve=True)


@view_config(
    route_name="backoffice_approval_reject",
    request_method="POST",
    renderer="billing/backoffice/approval.jinja2",
    permission="decide",
    assurance=CLERK,
)
def reject(context, request):
    return _decision(context, request, approve=False)


@view_config(
    route_name="backoffice_approval_withdraw",
    request_method="POST",
    permission="decide",
    assurance=CLERK,
)
def withdraw(context, request):
    """The clerk who asked takes the request back (:func:`portal.billing.approvals.withdraw`
    refuses anyone else)."""
    approval = context.approval
    approvals.withdraw(request.dbsession, approval, request.user, request.clock.now())
    log.info(
        "approval request %s (%s) withdrawn by user=%s",
        approval.public_id,
        approval.kind,
        request.user.id,
    )
    request.session.flash(
        request.localizer.translate(_("Withdrawn. Nothing was done, and the money is free again."))
    )
    return HTTPSeeOther(request.route_url("backoffice_approval", approval=approval.public_id))


@view_config(
    route_name="api_approval_decision",
    request_method="POST",
    renderer="json",
    permission="decide",
    assurance=CLERK,
)
def api_decision(context, request):
    """The same decision for a clerk's own client (signed in, with the CSRF token as
    ``X-CSRF-Token``): ``{"decision": "approve" | "reject", "note": "..."}``. A service's API
    key is no person, so it holds no permission here."""
    try:
        body = request.json_body
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        body = None
    if not isinstance(body, dict) or body.get("decision") not in ("approve", "reject"):
        raise Refusal(
            INVALID,
            _('Send {"decision": "approve"} or {"decision": "reject", "note": "why"}.'),
            title=approvals.CANNOT,
        )
    note = body.get("note", "")
    # a form's text is checked on its way in (portal.web); a JSON string may hold a NUL, which
    # PostgreSQL cannot store, or other characters no one types
    if not isinstance(note, str) or _NOT_TEXT.search(note):
        raise Refusal(INVALID, _("The note must be text."), title=approvals.CANNOT)
    approval = context.approval
    approvals.decide(
        request.dbsession,
        approval,
        request.user,
        body["decision"] == "approve",
        note,
        request.clock.now(),
    )
    log.info(
        "approval request %s (%s) %s through the API by user=%s",
        approval.public_id,
        approval.kind,
        approval.status,
        request.user.id,
    )
    return {"id": approval.public_id, "kind": approval.kind, "status": approval.status}
