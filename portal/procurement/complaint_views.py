"""The complaint pages: a bidder files one during the standstill; the complaint's page for its
organisation's representatives (/complaints/...); the same complaint read by the tender's
buyers (/procurement/complaints/...) and by the reviewers (/review/complaints/...), with their
queue and decision.

A complaint is found only by those who may read it: anyone else, signed in, gets the same 404
as for a complaint that does not exist. What buyers and reviewers read is clerk work
(permissions "buy" and "adjudicate", ``assurance=CLERK``), so they reach a complaint's text
and documents only through their own routes; the organisation's page is not clerk work,
since the bidder reads it. Every POST carries the CSRF token.
"""

from __future__ import annotations

import logging
import uuid

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.billing import with_status
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.procurement import complaint_billing, complaints, files
from portal.procurement.bids import bid_of
from portal.procurement.models import (
    COMPLAINT_AWAITING_PAYMENT,
    COMPLAINT_REGISTERED,
    Complaint,
    ComplaintDocument,
    Tender,
)
from portal.refusals import MALFORMED, NOT_FOUND, Refusal
from portal.security import ROLE_REVIEWER, buyer_principal, organisation_principal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: how many complaints each part of the reviewers' page lists
QUEUE_SHOWN = 200


class ComplaintContext:
    """A complaint: its organisation's representatives read it ("view"), the tender's buyers
    read it as clerk work ("buy"), reviewers read and decide it ("adjudicate")."""

    def __init__(self, complaint: Complaint):
        self.complaint = complaint

    @property
    def __acl__(self):
        complaint = self.complaint
        return [
            (Allow, organisation_principal(complaint.organisation_id), "view"),
            (Allow, buyer_principal(complaint.tender.department_id), "buy"),
            (Allow, ROLE_REVIEWER, "adjudicate"),
        ]


def _factory(permission: str):
    def factory(request) -> ComplaintContext:
        if request.user is None:
            # sign in first: whether a complaint exists is nobody's business before that
            raise HTTPForbidden()
        public_id = request.matchdict["public_id"]
        complaint = request.dbsession.scalar(
            select(Complaint).where(Complaint.public_id == public_id[:32])
        )
        if complaint is None:
            raise HTTPNotFound()
        context = ComplaintContext(complaint)
        if not request.has_permission(permission, context):
            raise HTTPNotFound()
        return context

    return factory


complaint_factory = _factory("view")
buyer_factory = _factory("buy")
review_factory = _factory("adjudicate")


def buyer_complaints(request, tender: Tender) -> list[dict]:
    """The complaints against ``tender``'s awards, newest first, with their buyer's links:
    for the buyer's tender and evaluation pages."""
    translate = request.localizer.translate
    return [
        {
            "organisation": complaint.organisation.name,
            "filed_at": complaint.filed_at,
            "status_label": translate(complaints.LABELS[complaint.status]),
            "url": request.route_path("buyer_complaint", public_id=complaint.public_id),
        }
        for complaint in sorted(tender.complaints, key=lambda c: c.id, reverse=True)
    ]


def _organisation(request, tender: Tender):
    """The organisation this person complains for: the one chosen, or the only one of theirs
    that bid on the tender."""
    mine = sorted(request.user.organisations, key=lambda organisation: organisation.name)
    chosen = request.params.get("organisation", "")
    if isinstance(chosen, str) and chosen:
        for organisation in mine:
            if str(organisation.id) == chosen:
                return organisation
        raise Refusal(NOT_FOUND, _("You do not represent this organisation."))
    bidding = [o for o in mine if bid_of(request.dbsession, tender, o) is not None]
    if len(bidding) == 1:
        return bidding[0]
    if len(mine) == 1:
        return mine[0]
    raise Refusal(MALFORMED, _("Choose the organisation you complain for."))


def _new_page(request, tender: Tender, organisation, errors=None, values=None):
    translate = request.localizer.translate
    now = request.clock.now()
    try:
        award = complaints.may_complain(request.dbsession, tender, organisation, now)
        fee = complaint_billing.complaint_fee(
            request.dbsession, now.astimezone(request.clock.timezone).date()
        )
        refusal = None
    except Refusal as refused:
        award, fee, refusal = None, None, translate(refused.message)
    return render_to_response(
        "procurement/complaints/new.jinja2",
        {
            "tender": tender,
            "organisation": organisation,
            "award": award,
            "fee": fee,
            "refusal": refusal,
            "values": values or {},
            "errors": {name: translate(message) for name, message in (errors or {}).items()},
        },
        request=request,
        response=request.response,
    )


@view_config(route_name="tender_complaint_new", request_method="GET", permission="bid")
def new_complaint(context, request):
    """The form, or why this organisation cannot complain now; read against the request's
    own clock, so a standstill ended before its job ran is over here too (a GET never
    writes)."""
    tender = context.tender
    return _new_page(request, tender, _organisation(request, tender))


@view_config(
    route_name="tender_complaint_new", request_method="POST", permission="bid", accepts_files=True
)
def file_complaint(context, request):
    tender = context.tender
    organisation = _organisation(request, tender)
    text = request.POST.get("text", "")
    values = {"text": text if isinstance(text, str) else ""}
    settings = request.registry.settings
    try:
        text = complaints.read_text(text, "text", _("Say what your complaint is."))
        uploads = [
            files.check_upload("documents", posted, settings)
            for posted in request.POST.getall("documents")
            if hasattr(posted, "file") and posted.filename
        ]
        complaint = complaints.file_complaint(
            request.dbsession,
            tender,
            organisation,
            user=request.user,
            text=text,
            uploads=uploads,
            now=request.clock.now(),
            timezone=request.clock.timezone,
        )
    except Refusal as refused:
        return _new_page(request, tender, organisation, form_refused(request, refused), values)
    request.session.flash(
        request.localizer.translate(
            _("Your complaint was filed. It is registered once its fee is paid.")
        )
    )
    return HTTPSeeOther(request.route_url("complaint", public_id=complaint.public_id))


def _values(request, complaint: Complaint, document_route: str) -> dict:
    translate = request.localizer.translate
    fee = with_status(request.dbsession, [complaint.fee_bill])[0] if complaint.fee_bill else None
    return {
        "complaint": complaint,
        "tender": complaint.tender,
        "award": complaint.award,
        "status_label": translate(complaints.LABELS[complaint.status]),
        "fee": fee,
        "documents": [
            (
                document.filename,
                request.route_path(
                    document_route,
                    public_id=complaint.public_id,
                    document=document.public_id,
                ),
            )
            for document in complaint.documents
        ],
    }


@view_config(
    route_name="complaint",
    request_method="GET",
    permission="view",
    renderer="procurement/complaints/complaint.jinja2",
)
def complaint_page(context, request):
    complaint = context.complaint
    values = _values(request, complaint, "complaint_document")
    mine = complaint.organisation in request.user.organisations
    awaiting = mine and complaint.status == COMPLAINT_AWAITING_PAYMENT
    in_time = complaints.open_to_payment(complaint.award, request.clock.now())
    values["payable"] = awaiting and in_time and values["fee"] is not None and values["fee"].payable
    values["too_late"] = awaiting and not in_time
    values["idempotency_key"] = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    return values


@view_config(
    route_name="buyer_complaint",
    request_method="GET",
    permission="buy",
    assurance=CLERK,
    renderer="procurement/complaints/buyer.jinja2",
)
def buyer_complaint(context, request):
    return _values(request, context.complaint, "buyer_complaint_document")


@view_config(route_name="complaint_document", request_method="GET", permission="view")
@view_config(
    route_name="buyer_complaint_document", request_method="GET", permission="buy", assurance=CLERK
)
@view_config(
    route_name="review_complaint_document",
    request_method="GET",
    permission="adjudicate",
    assurance=CLERK,
)
def complaint_document(context, request):
    document = request.dbsession.scalar(
        select(ComplaintDocument).where(
            ComplaintDocument.complaint_id == context.complaint.id,
            ComplaintDocument.public_id == request.matchdict["document"][:32],
        )
    )
    if document is None:
        raise HTTPNotFound()
    return files.file_response(request, document.file, document.filename)


@view_config(
    route_name="review_complaints",
    request_method="GET",
    permission="adjudicate",
    assurance=CLERK,
    renderer="procurement/complaints/queue.jinja2",
)
def review_queue(request):
    """The registered complaints to decide, oldest first, then the latest decided."""
    translate = request.localizer.translate
    waiting = request.dbsession.scalars(
        select(Complaint)
        .where(Complaint.status == COMPLAINT_REGISTERED)
        .order_by(Complaint.registered_at, Complaint.id)
        .limit(QUEUE_SHOWN)
    ).all()
    decided = request.dbsession.scalars(
        select(Complaint)
        .where(Complaint.decided_at.is_not(None))
        .order_by(Complaint.decided_at.desc(), Complaint.id.desc())
        .limit(QUEUE_SHOWN)
    ).all()
    return {
        "waiting": waiting,
        "decided": decided,
        "labels": {code: translate(label) for code, label in complaints.LABELS.items()},
    }


def _review_page(request, complaint: Complaint, errors=None, values=None):
    translate = request.localizer.translate
    page = _values(request, complaint, "review_complaint_document")
    page["errors"] = {name: translate(message) for name, message in (errors or {}).items()}
    page["values"] = values or {}
    return render_to_response(
        "procurement/complaints/review.jinja2", page, request=request, response=request.response
    )


@view_config(
    route_name="review_complaint", request_method="GET", permission="adjudicate", assurance=CLERK
)
def review_complaint(context, request):
    return _review_page(request, context.complaint)


@view_config(
    route_name="review_complaint", request_method="POST", permission="adjudicate", assurance=CLERK
)
def decide_complaint(context, request):
    complaint = context.complaint
    outcome, reason = request.POST.get("outcome", ""), request.POST.get("reason", "")
    values = {
        "outcome": outcome if isinstance(outcome, str) else "",
        "reason": reason if isinstance(reason, str) else "",
    }
    try:
        complaints.decide(
            request.dbsession,
            complaint,
            outcome=values["outcome"],
            reason=values["reason"],
            reviewer=request.user,
            now=request.clock.now(),
        )
    except Refusal as refused:
        return _review_page(request, complaint, form_refused(request, refused), values)
    request.session.flash(
        request.localizer.translate(
            _("The complaint is upheld: the fee is refunded and the award withdrawn.")
            if values["outcome"] == complaints.UPHELD
            else _("The complaint is rejected: the fee is kept.")
        )
    )
    return HTTPSeeOther(request.route_url("review_complaint", public_id=complaint.public_id))


def includeme(config) -> None:
    config.include("portal.procurement.complaints")
    config.add_route(
        "tender_complaint_new",
        "/tenders/{reference}/complaints/new",
        factory="portal.procurement.resources.tender_factory",
    )
    config.add_route(
        "complaint",
        "/complaints/{public_id}",
        factory="portal.procurement.complaint_views.complaint_factory",
    )
    config.add_route(
        "complaint_document",
        "/complaints/{public_id}/documents/{document}",
        factory="portal.procurement.complaint_views.complaint_factory",
    )
    config.add_route(
        "buyer_complaint",
        "/procurement/complaints/{public_id}",
        factory="portal.procurement.complaint_views.buyer_factory",
    )
    config.add_route(
        "buyer_complaint_document",
        "/procurement/complaints/{public_id}/documents/{document}",
        factory="portal.procurement.complaint_views.buyer_factory",
    )
    config.add_route("review_complaints", "/review/complaints")
    config.add_route(
        "review_complaint",
        "/review/complaints/{public_id}",
        factory="portal.procurement.complaint_views.review_factory",
    )
    config.add_route(
        "review_complaint_document",
        "/review/complaints/{public_id}/documents/{document}",
        factory="portal.procurement.complaint_views.review_factory",
    )
    config.add_navigation_item("review_complaints", _("Complaints to review"), "adjudicate")
