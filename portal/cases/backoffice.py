"""The clerks' side: one queue of the cases of their departments (administrators see all),
and a case's page where it is claimed, handed over, noted, attached to and closed.

Every change is a POST with CSRF that names the version of the case the clerk's page showed:
a change made on a page that is out of date is refused and changes nothing.
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from portal.cases import state, work
from portal.cases.kinds import barred_from, case_kind, case_kinds
from portal.cases.models import Case, CaseAttachment
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import Department
from portal.procurement.files import check_upload, file_response
from portal.refusals import INVALID, NOT_FOUND, FieldError, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: the most cases one page of the queue shows
QUEUE_SHOWN = 500
#: the largest file a clerk attaches to a case (``cases.max_attachment_bytes``)
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

#: the queue's state filter: its value -> the states it shows
STATE_FILTERS = {
    "open": state.OPEN,
    state.RECEIVED: frozenset({state.RECEIVED}),
    state.IN_PROGRESS: frozenset({state.IN_PROGRESS}),
    "ended": state.ENDED,
}
SORTS = ("due", "opened")


def visible_departments(request) -> list[Department]:
    user = request.user
    if user.is_admin:
        return list(request.dbsession.scalars(select(Department).order_by(Department.name)))
    return sorted(user.departments, key=lambda department: department.name)


def _choice(request, name: str, allowed, default: str = "") -> str:
    """A filter's value from the query: one of ``allowed`` or empty; anything else is
    refused (422)."""
    value = request.GET.get(name, default)
    if value and value not in allowed:
        raise Refusal(
            INVALID,
            _("This filter has no such choice."),
            errors=[FieldError(name, _("This filter has no such choice."))],
        )
    return value


@view_config(
    route_name="backoffice_cases",
    renderer="cases/queue.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def queue(request):
    """The cases of this clerk's departments, filtered by kind, state, assignee and
    department; overdue first (by due time) unless asked otherwise."""
    user = request.user
    departments = visible_departments(request)
    by_code = {department.code: department for department in departments}
    kinds = case_kinds(request.registry)
    kind = _choice(request, "kind", kinds)
    shown = _choice(request, "state", STATE_FILTERS, "open")
    assignee = _choice(request, "assignee", ("me", "none"))
    department = _choice(request, "department", by_code)
    sort = _choice(request, "sort", SORTS, "due")

    query = select(Case).where(Case.state.in_(STATE_FILTERS[shown or "open"]))
    if not user.is_admin:
        query = query.where(Case.department_id.in_([d.id for d in departments]))
    if department:
        query = query.where(Case.department_id == by_code[department].id)
    if kind:
        query = query.where(Case.kind == kind)
    if assignee == "me":
        query = query.where(Case.assignee_id == user.id)
    elif assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    order = (Case.due_at, Case.id) if sort == "due" else (Case.opened_at.desc(), Case.id.desc())
    cases = list(request.dbsession.scalars(query.order_by(*order).limit(QUEUE_SHOWN)))
    translate = request.localizer.translate
    return {
        "cases": cases,
        "now": request.clock.now(),
        "kinds": {code: translate(k.label) for code, k in kinds.items()},
        "state_labels": {code: translate(label) for code, label in state.LABELS.items()},
        "departments": departments,
        "filters": {
            "kind": kind,
            "state": shown,
            "assignee": assignee,
            "department": department,
            "sort": sort,
        },
        "state_choices": [
            ("open", translate(_("Open (received or being handled)"))),
            (state.RECEIVED, translate(state.LABELS[state.RECEIVED])),
            (state.IN_PROGRESS, translate(state.LABELS[state.IN_PROGRESS])),
            ("ended", translate(_("Decided or closed"))),
        ],
        "shown_limit": QUEUE_SHOWN,
    }


def history(request, case: Case) -> list[tuple]:
    """Everything that happened to ``case``, oldest first: changes of state, claims and
    hand-overs, notes and files (a note's text is shown with it)."""
    translate = request.localizer.translate
    entries = []
    for step in case.transitions:
        who = step.actor.display_name if step.actor else translate(_("the portal"))
        text = translate(
            _(
                "${state} (${who})",
                mapping={"state": translate(state.LABELS[step.to_state]), "who": who},
            )
        )
        entries.append(
            (step.at, 0, step.id, text, step.cause if step.to_state in state.ENDED else "")
        )
    for given in case.assignments:
        if given.from_user_id is None and given.by_id == given.to_user_id:
            text = translate(_("Claimed by ${name}", mapping={"name": given.to_user.display_name}))
        else:
            text = translate(
                _(
                    "Handed to ${to} by ${by}",
                    mapping={"to": given.to_user.display_name, "by": given.by.display_name},
                )
            )
        entries.append((given.at, 1, given.id, text, ""))
    for note in case.notes:
        author = note.author.display_name if note.author else translate(_("the portal"))
        label = (
            _("Public note by ${name}", mapping={"name": author})
            if note.public
            else _("Internal note by ${name}", mapping={"name": author})
        )
        entries.append((note.at, 2, note.id, translate(label), note.text))
    for attachment in case.attachments:
        text = translate(
            _(
                "File ${file} attached by ${name}",
                mapping={"file": attachment.filename, "name": attachment.uploaded_by.display_name},
            )
        )
        entries.append((attachment.at, 3, attachment.id, text, ""))
    return [(at, text, quoted) for at, _order, _id, text, quoted in sorted(entries)]


def _page_values(request, case: Case) -> dict:
    """The case's page (a refused form adds its ``errors`` by field and what was ``typed``)."""
    user = request.user
    kind = case_kind(request.registry, case.kind)
    translate = request.localizer.translate
    mine = case.assignee_id == user.id or user.is_admin
    return {
        "case": case,
        "kind_label": translate(kind.label),
        "state_label": translate(state.LABELS[case.state]),
        "outcome": state.outcome_label(translate, case.outcome) if case.outcome else "",
        "overdue": case.state in state.OPEN and case.due_at < request.clock.now(),
        "party_shown": kind.party_shown_to_clerks,
        "decision_link": kind.decision_link(request, case) if kind.decision_link else None,
        "history": history(request, case),
        "can_claim": case.state in state.OPEN
        and case.assignee_id is None
        and user.id not in barred_from(request.dbsession, request.registry, case),
        "can_hand_over": case.state == state.IN_PROGRESS and mine,
        "colleagues": work.colleagues(request.dbsession, case, user),
        "can_close": kind.closed_by_clerk and case.state == state.IN_PROGRESS and mine,
        "is_open": case.state in state.OPEN,
        "errors": {},
        "typed": {},
    }


@view_config(
    route_name="backoffice_case",
    request_method="GET",
    renderer="cases/case.jinja2",
    permission="work",
    assurance=CLERK,
)
def case_page(context, request):
    return _page_values(request, context.case)


def _version(request) -> int:
    text = request.POST.get("version", "")
    # isascii: "²" is a digit to isdigit() but not to int()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise Refusal(INVALID, _("The form was not sent whole. Open the case again."))
    return int(text)


def _back(request, case: Case, message) -> HTTPSeeOther:
    request.session.flash(request.localizer.translate(message))
    return HTTPSeeOther(request.route_url("backoffice_case", case=case.public_id))


def _with_way_back(request, case: Case, refused: Refusal) -> Refusal:
    """The refusal, with a link back to the case (its page shows where it stands now)."""
    url = request.route_path("backoffice_case", case=case.public_id)
    label = request.localizer.translate(_("Back to the case"))
    return Refusal(
        refused.kind,
        refused.message,
        title=refused.title,
        errors=refused.errors,
        way_on=(url, label),
        headers=refused.headers,
    )


def _form_again(request, case: Case, refused: Refusal, **typed) -> dict:
    """A field the clerk got wrong (an empty note, no colleague, no outcome, no file): the
    case's page again with the error by that field and what they typed, so they correct it
    there. Any other refusal (a stale page, a case not theirs) is the error page, with a way
    back to the case. Either way nothing is kept (the refusal's status vetoes the commit)."""
    values = _page_values(request, case)
    shown = {
        "to": values["can_hand_over"] and bool(values["colleagues"]),
        "outcome": values["can_close"],
        "file": values["is_open"],
    }
    # no field, or one whose form the page as it is now does not show (a stale page's post)
    if not refused.errors or not all(shown.get(e.field, True) for e in refused.errors):
        raise _with_way_back(request, case, refused) from None
    values.update(errors=form_refused(request, refused), typed=typed)
    return values


@view_config(
    route_name="backoffice_case_claim", request_method="POST", permission="work", assurance=CLERK
)
def claim(context, request):
    case = context.case
    try:
        work.claim(request.dbsession, case, request.user, _version(request), request.clock.now())
    except Refusal as refused:
        raise _with_way_back(request, case, refused) from None
    return _back(request, case, _("The case is yours."))


@view_config(
    route_name="backoffice_case_hand_over",
    request_method="POST",
    renderer="cases/case.jinja2",
    permission="work",
    assurance=CLERK,
)
def hand_over(context, request):
    case = context.case
    to = request.POST.get("to", "")
    # no colleague has id 0: anything but a number is refused as no colleague of the case
    to_user_id = int(to) if to.isascii() and to.isdigit() and len(to) <= 12 else 0
    try:
        colleague = work.hand_over(
            request.dbsession,
            case,
            request.user,
            to_user_id,
            _version(request),
            request.clock.now(),
        )
    except Refusal as refused:
        return _form_again(request, case, refused)
    return _back(
        request,
        case,
        _("The case is handed to ${name}.", mapping={"name": colleague.display_name}),
    )


@view_config(
    route_name="backoffice_case_note",
    request_method="POST",
    renderer="cases/case.jinja2",
    permission="work",
    assurance=CLERK,
)
def add_note(context, request):
    case = context.case
    visibility = request.POST.get("visibility", "")
    text = request.POST.get("text", "")
    try:
        if visibility not in ("internal", "public"):
            raise Refusal(
                INVALID,
                _("Choose who may read the note."),
                errors=[FieldError("visibility", _("Choose who may read the note."))],
            )
        work.add_note(
            request.dbsession,
            case,
            request.user,
            text,
            visibility == "public",
            request.clock.now(),
        )
    except Refusal as refused:
        return _form_again(request, case, refused, text=text, visibility=visibility)
    return _back(request, case, _("The note is added."))


def max_attachment_bytes(settings) -> int:
    return int(settings.get("cases.max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES))


@view_config(
    route_name="backoffice_case_attach",
    request_method="POST",
    renderer="cases/case.jinja2",
    permission="work",
    assurance=CLERK,
    accepts_files=True,
)
def attach(context, request):
    case = context.case
    try:
        settings = request.registry.settings
        upload = check_upload(
            "file", request.POST.get("file"), settings, limit=max_attachment_bytes(settings)
        )
        work.attach(request.dbsession, case, request.user, upload, request.clock.now())
    except Refusal as refused:
        return _form_again(request, case, refused)
    return _back(request, case, _("The file is attached."))


@view_config(
    route_name="backoffice_case_close",
    request_method="POST",
    renderer="cases/case.jinja2",
    permission="work",
    assurance=CLERK,
)
def close(context, request):
    case = context.case
    outcome = request.POST.get("outcome", "")
    try:
        work.close(
            request.dbsession, case, request.user, outcome, _version(request), request.clock.now()
        )
    except Refusal as refused:
        return _form_again(request, case, refused, outcome=outcome)
    return _back(request, case, _("The case is closed."))


@view_config(
    route_name="backoffice_case_attachment",
    request_method="GET",
    permission="work",
    assurance=CLERK,
)
def download(context, request):
    """A file of the case, to those who may work it; sent as a download, never shown as a
    page."""
    attachment = request.dbsession.scalar(
        select(CaseAttachment).where(
            CaseAttachment.case_id == context.case.id,
            CaseAttachment.public_id == request.matchdict["attachment"],
        )
    )
    if attachment is None:
        raise Refusal(NOT_FOUND, _("This case has no such file."))
    return file_response(request, attachment.file, attachment.filename, "private, no-store")
