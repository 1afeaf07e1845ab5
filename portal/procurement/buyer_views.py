"""The buyer's pages: a department's tenders, preparing a draft, publishing, amending and
cancelling, and the documents that go with a tender.

Every page is for the tender's department's buyers ("buy" on the tender's context, clerk
assurance). A page shows a tender's status as the clock has it now (``state.due_status``)
without writing; the actions that change a published tender first record what the clock
has done (``state.advance``), so an amendment can never reopen a tender past its deadline.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.interfaces import IRoutesMapper
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, select

from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import User
from portal.procurement import files, state
from portal.procurement.amendments import (
    SUBMITTED,
    amend,
    check_amendable,
    read_amendment,
    read_reason,
    record_amendment,
)
from portal.procurement.bidder_mail import CANCELLED, mail_bidders_after_commit
from portal.procurement.complaint_views import buyer_complaints
from portal.procurement.drafting import (
    FormReader,
    apply_draft,
    form_values,
    posted_values,
    read_draft,
)
from portal.procurement.models import (
    BEST_VALUE,
    LOWEST_PRICE,
    Bid,
    CommitteeKey,
    Tender,
    TenderDocument,
)
from portal.procurement.opening_views import opened_rows
from portal.procurement.tenders import (
    CANCELLABLE,
    cancel_tender,
    new_tender,
    publication_problems,
    publish,
)
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal
from portal.web import form_refused

MAX_DOCUMENT_TITLE = 300
#: the names of what an amendment changed, as its version lists them
CHANGE_LABELS = {
    "description": _("Description"),
    "estimated_value": _("Estimated value"),
    "items": _("Items"),
    "documents": _("Documents"),
    "questions_until": _("Questions until"),
    "bids_until": _("Deadline"),
    "opening_at": _("Opening"),
}


def timezone_of(request) -> ZoneInfo:
    return ZoneInfo(request.registry.settings.get("portal.timezone", "UTC"))


def _page(request, template: str, values: dict):
    """Render ``template``; its ``errors`` (by field) are translated for the page."""
    translate = request.localizer.translate
    values["errors"] = {name: translate(m) for name, m in values.get("errors", {}).items()}
    return render_to_response(
        f"procurement/buyer/{template}", values, request=request, response=request.response
    )


def _back(request, tender: Tender, route: str = "buyer_tender"):
    return HTTPSeeOther(request.route_url(route, reference=tender.reference))


def _flash(request, message) -> None:
    request.session.flash(request.localizer.translate(message))


# -- the list ---------------------------------------------------------------------------------


@view_config(
    route_name="buyer_tenders",
    request_method="GET",
    renderer="procurement/buyer/list.jinja2",
    permission="buy",
    assurance=CLERK,
)
def tenders(request):
    departments = request.user.buying_departments
    rows = request.dbsession.scalars(
        select(Tender)
        .where(Tender.department_id.in_([d.id for d in departments]))
        .order_by(Tender.created_at.desc(), Tender.id.desc())
        .limit(500)
    )
    now = request.clock.now()
    translate = request.localizer.translate
    due = [(t, state.due_status(t, now)) for t in rows]
    return {
        "tenders": [(t, status, translate(state.LABELS[status])) for t, status in due],
        "departments": departments,
        "errors": {},
        "title": "",
    }


@view_config(
    route_name="buyer_tender_new", request_method="POST", permission="buy", assurance=CLERK
)
def tender_new(request):
    departments = {str(d.id): d for d in request.user.buying_departments}
    reader = FormReader(request.POST, "EUR")
    title = reader.text("title", 300, True, _("Give the tender a title."))
    department = departments.get(request.POST.get("department", "")) or (
        next(iter(departments.values())) if len(departments) == 1 else None
    )
    if department is None:
        reader.errors.append(FieldError("department", _("Choose the department.")))
    try:
        reader.refuse_if_wrong()
    except Refusal as refused:
        values = tenders(request)
        values.update(errors=form_refused(request, refused), title=title)
        return _page(request, "list.jinja2", values)
    tender = new_tender(
        request.dbsession,
        department=department,
        actor=request.user,
        title=title,
        now=request.clock.now(),
        timezone=timezone_of(request),
    )
    return _back(request, tender, "buyer_tender_edit")


# -- the tender's page ------------------------------------------------------------------------


def _changes(version) -> list[dict]:
    return json.loads(version.changes_json or "[]")


def overview(request, context, errors=None, values=None):
    """The buyer's page of a tender: its facts, documents, history and versions, and the
    actions its status allows."""
    tender = context.tender
    now = request.clock.now()
    due = state.due_status(tender, now)
    # how many bids were submitted is itself sealed until the opening
    submitted = (
        request.dbsession.scalar(
            select(func.count())
            .select_from(Bid)
            .where(Bid.tender_id == tender.id, Bid.status == SUBMITTED)
        )
        if state.bids_opened(tender)
        else None
    )
    translate = request.localizer.translate
    return _page(
        request,
        "tender.jinja2",
        {
            "tender": tender,
            "status": due,
            "status_label": translate(state.LABELS[due]),
            "labels": {code: translate(label) for code, label in state.LABELS.items()},
            "documents": [d for d in tender.documents if d.removed_in_version is None],
            "removed_documents": [d for d in tender.documents if d.removed_in_version],
            "versions": [(v, _changes(v)) for v in tender.versions],
            "submitted_bids": submitted,
            "opened_rows": opened_rows(request, tender) if state.bids_opened(tender) else None,
            "tender_complaints": buyer_complaints(request, tender),
            "is_draft": tender.status == state.DRAFT,
            "amendable": due in state.AMENDABLE,
            "cancellable": due in CANCELLABLE,
            "problems": [
                translate(problem.message)
                for problem in publication_problems(request.dbsession, tender, now)
            ]
            if tender.status == state.DRAFT
            else [],
            "errors": errors or {},
            "values": values or {},
            "document_url": lambda document: document_url(request, tender, document),
            "document_type": lambda media_type: files.ACCEPTED.get(media_type, (media_type,))[0],
            "document_size": size_text,
            "quantity": lambda value: f"{value.normalize():f}",
            "change_label": lambda name: translate(CHANGE_LABELS.get(name, name)),
        },
    )


def document_url(request, tender: Tender, document: TenderDocument) -> str | None:
    """The public download of ``document``: the public pages' route ``tender_document``
    serves it (``None`` in an application built without them)."""
    if request.registry.getUtility(IRoutesMapper).get_route("tender_document") is None:
        return None
    return request.route_path(
        "tender_document", reference=tender.reference, document=document.public_id
    )


def size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _refused_on_page(request, context, refused: Refusal, values=None):
    return overview(request, context, form_refused(request, refused), values or {})


@view_config(route_name="buyer_tender", request_method="GET", permission="buy", assurance=CLERK)
def tender_page(context, request):
    return overview(request, context)


# -- editing a draft --------------------------------------------------------------------------


def _clerks(request) -> list[tuple[User, bool]]:
    """Who may sit on a committee (clerks of any department), and whether they have set up
    their committee key."""
    people = request.dbsession.scalars(
        select(User).where(User.departments.any()).order_by(User.family_name, User.given_name)
    ).all()
    with_key = set(request.dbsession.scalars(select(CommitteeKey.user_id)))
    return [(person, person.id in with_key) for person in people]


def _edit_page(request, context, values, errors=None):
    return _page(
        request,
        "edit.jinja2",
        {
            "tender": context.tender,
            "values": values,
            "errors": errors or {},
            "clerks": _clerks(request),
            "criteria": [
                (LOWEST_PRICE, _("Lowest price")),
                (BEST_VALUE, _("Best price-quality ratio")),
            ],
            "timezone": timezone_of(request).key,
        },
    )


def _check_draft(tender: Tender) -> None:
    if tender.status != state.DRAFT:
        raise Refusal(
            CONFLICT,
            _("This tender is published: amend it instead of editing it."),
            about=tender,
        )


@view_config(
    route_name="buyer_tender_edit", request_method="GET", permission="buy", assurance=CLERK
)
def edit_form(context, request):
    _check_draft(context.tender)
    return _edit_page(request, context, form_values(context.tender, timezone_of(request)))


@view_config(
    route_name="buyer_tender_edit", request_method="POST", permission="buy", assurance=CLERK
)
def edit(context, request):
    """Save the draft, or show the form again with one more blank item or criterion row."""
    tender = context.tender
    _check_draft(tender)
    action = request.POST.get("action", "save")
    if action in ("add_item", "add_criterion"):
        values = posted_values(request.POST, add=action.removeprefix("add_"))
        return _edit_page(request, context, values)
    clerks = {person.id: person for person, _has_key in _clerks(request)}
    try:
        values = read_draft(
            request.POST,
            tender,
            clerks=clerks,
            timezone=timezone_of(request),
            now=request.clock.now(),
        )
    except Refusal as refused:
        errors = form_refused(request, refused)
        return _edit_page(request, context, posted_values(request.POST), errors)
    apply_draft(tender, values, request.clock.now())
    _flash(request, _("The draft is saved."))
    return _back(request, tender)


# -- publishing -------------------------------------------------------------------------------


@view_config(
    route_name="buyer_tender_publish", request_method="POST", permission="buy", assurance=CLERK
)
def publish_view(context, request):
    tender = context.tender
    try:
        publish(request.dbsession, tender, actor=request.user, now=request.clock.now())
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return _refused_on_page(request, context, refused)
    _flash(request, _("The tender is published."))
    return _back(request, tender)


# -- documents --------------------------------------------------------------------------------


def _advance(request, tender: Tender) -> None:
    if tender.status in state.PUBLISHED:
        state.advance(request.dbsession, tender, request.clock.now())


@view_config(
    route_name="buyer_tender_documents",
    request_method="POST",
    permission="buy",
    assurance=CLERK,
    accepts_files=True,
)
def upload(context, request):
    """Add a document: to a draft as it is, to a published tender as an amendment (with a
    reason)."""
    tender = context.tender
    _advance(request, tender)
    now = request.clock.now()
    try:
        published = tender.status != state.DRAFT
        if published:
            check_amendable(tender)
        reader = FormReader(request.POST, tender.currency)
        title = reader.text("title", MAX_DOCUMENT_TITLE, True, _("Give the document a title."))
        reason = reader.text("reason", 2000, published, _("Say why the tender is amended."))
        upload_refused = None
        try:
            checked = files.check_upload(
                "file", request.POST.get("file"), request.registry.settings
            )
        except Refusal as refused:
            upload_refused = refused
        if reader.errors and upload_refused is not None:
            reader.errors.extend(upload_refused.errors)
        reader.refuse_if_wrong()
        if upload_refused is not None:
            raise upload_refused
    except Refusal as refused:
        posted = {k: v for k, v in request.POST.items() if isinstance(v, str)}
        return _refused_on_page(request, context, refused, posted)
    stored = files.store(request.dbsession, checked, now)
    document = TenderDocument(
        tender=tender,
        file=stored,
        title=title,
        filename=checked.filename,
        added_in_version=tender.version,
        added_at=now,
    )
    request.dbsession.add(document)
    if published:
        record_amendment(
            request.dbsession,
            tender,
            [{"field": "documents", "before": "", "after": f"{title} ({checked.filename})"}],
            reason=reason,
            actor=request.user,
            now=now,
            timezone=timezone_of(request),
            settings=request.registry.settings,
        )
        document.added_in_version = tender.version
    request.dbsession.flush()
    _flash(request, _("The document is added."))
    return _back(request, tender)


def _document(request, tender: Tender) -> TenderDocument:
    public_id = request.matchdict["document"]
    for document in tender.documents:
        if document.public_id == public_id and document.removed_in_version is None:
            return document
    raise HTTPNotFound()


@view_config(
    route_name="buyer_tender_document_remove",
    request_method="POST",
    permission="buy",
    assurance=CLERK,
)
def remove_document(context, request):
    """Remove a document: from a draft for good; from a published tender as an amendment
    (the row stays, marked with the version that removed it)."""
    tender = context.tender
    document = _document(request, tender)
    _advance(request, tender)
    if tender.status == state.DRAFT:
        tender.documents.remove(document)
        _flash(request, _("The document is removed."))
        return _back(request, tender)
    try:
        check_amendable(tender)
        reason = read_reason(request.POST, "remove_reason")
    except Refusal as refused:
        return _refused_on_page(request, context, refused)
    record_amendment(
        request.dbsession,
        tender,
        [{"field": "documents", "before": f"{document.title} ({document.filename})", "after": ""}],
        reason=reason,
        actor=request.user,
        now=request.clock.now(),
        timezone=timezone_of(request),
        settings=request.registry.settings,
    )
    document.removed_in_version = tender.version
    _flash(request, _("The document is removed; the amendment is recorded."))
    return _back(request, tender)


# -- amending ---------------------------------------------------------------------------------


def _amend_page(request, context, values, errors=None):
    return _page(
        request,
        "amend.jinja2",
        {
            "tender": context.tender,
            "values": values,
            "errors": errors or {},
            "questions_open": state.due_status(context.tender, request.clock.now())
            == state.QUESTIONS,
            "timezone": timezone_of(request).key,
        },
    )


@view_config(
    route_name="buyer_tender_amend", request_method="GET", permission="buy", assurance=CLERK
)
def amend_form(context, request):
    tender = context.tender
    if state.due_status(tender, request.clock.now()) not in state.AMENDABLE:
        raise Refusal(CONFLICT, _("Only a tender still open for bids can be amended."))
    return _amend_page(request, context, form_values(tender, timezone_of(request)))


@view_config(
    route_name="buyer_tender_amend", request_method="POST", permission="buy", assurance=CLERK
)
def amend_view(context, request):
    tender = context.tender
    _advance(request, tender)
    check_amendable(tender)
    action = request.POST.get("action", "save")
    if action == "add_item":
        return _amend_page(request, context, posted_values(request.POST, add="item"))
    timezone = timezone_of(request)
    now = request.clock.now()
    try:
        values = read_amendment(request.POST, tender, timezone=timezone, now=now)
        amend(
            request.dbsession,
            tender,
            values,
            actor=request.user,
            now=now,
            timezone=timezone,
            settings=request.registry.settings,
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        errors = form_refused(request, refused)
        return _amend_page(request, context, posted_values(request.POST), errors)
    _flash(
        request,
        _("The amendment is recorded as version ${number}.", mapping={"number": tender.version}),
    )
    return _back(request, tender)


# -- cancelling -------------------------------------------------------------------------------


@view_config(
    route_name="buyer_tender_cancel", request_method="POST", permission="buy", assurance=CLERK
)
def cancel(context, request):
    tender = context.tender
    _advance(request, tender)
    try:
        reader = FormReader(request.POST, tender.currency)
        reason = reader.text("cancel_reason", 2000, True, _("Say why the tender is cancelled."))
        reader.refuse_if_wrong()
        bids = cancel_tender(
            request.dbsession, tender, actor=request.user, reason=reason, now=request.clock.now()
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return _refused_on_page(request, context, refused)
    mail_bidders_after_commit(request.dbsession, CANCELLED, bids, reason)
    _flash(request, _("The tender is cancelled. Its bidders are told."))
    return _back(request, tender)


def includeme(config) -> None:
    tender = {"factory": "portal.procurement.resources.tender_factory"}
    config.add_route("buyer_tenders", "/procurement/tenders")
    config.add_route("buyer_tender_new", "/procurement/tenders/new")
    config.add_route("buyer_tender", "/procurement/tenders/{reference}", **tender)
    config.add_route("buyer_tender_edit", "/procurement/tenders/{reference}/edit", **tender)
    config.add_route("buyer_tender_publish", "/procurement/tenders/{reference}/publish", **tender)
    config.add_route(
        "buyer_tender_documents", "/procurement/tenders/{reference}/documents", **tender
    )
    config.add_route(
        "buyer_tender_document_remove",
        "/procurement/tenders/{reference}/documents/{document}/remove",
        **tender,
    )
    config.add_route("buyer_tender_amend", "/procurement/tenders/{reference}/amend", **tender)
    config.add_route("buyer_tender_cancel", "/procurement/tenders/{reference}/cancel", **tender)
    config.add_navigation_item("buyer_tenders", _("Tender management"), "buy")
