"""The buyer's contract page (record the signed contract, or the winner's refusal to sign)
and the public download of the signed contract once the tender is complete.

The buyer's routes answer 404 to everyone but the tender's department's buyers: whether a
tender awaits its contract, and from whom, is the department's business until it is recorded.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.procurement import files, state
from portal.procurement.buyer_views import timezone_of
from portal.procurement.contract import (
    awaiting_contract,
    contracting_award,
    read_contract,
    read_refusal_reason,
    record_contract,
    record_refusal,
)
from portal.procurement.models import REFUSED_TO_SIGN, QualificationDecision
from portal.procurement.resources import TenderContext, tender_factory
from portal.refusals import INVALID, Refusal
from portal.web import form_refused


def buyers_tender_factory(request) -> TenderContext:
    """The tender, found only by its department's buyers (everyone else signed in: 404; a
    visitor not signed in is asked to sign in first)."""
    if request.user is None:
        raise HTTPForbidden()
    context = tender_factory(request)
    if not request.has_permission("buy", context):
        raise HTTPNotFound()
    return context


def _page(request, context, errors=None, values=None):
    tender = context.tender
    dbsession = request.dbsession
    now = request.clock.now()
    awaiting = awaiting_contract(dbsession, tender, now)
    status = state.CONTRACTING if awaiting else tender.status
    translate = request.localizer.translate
    award = state.active_award(dbsession, tender)
    contract = tender.contract
    if award is None and contract is not None:
        award = contract.award
    refusals = dbsession.scalars(
        select(QualificationDecision)
        .where(
            QualificationDecision.tender_id == tender.id,
            QualificationDecision.outcome == REFUSED_TO_SIGN,
        )
        .order_by(QualificationDecision.id)
    ).all()
    if values is None:
        values = {"value": f"{award.value.decimal():f}" if award is not None else ""}
    return render_to_response(
        "procurement/contract/contract.jinja2",
        {
            "tender": tender,
            "status": status,
            "status_label": translate(state.LABELS[status]),
            "award": award,
            "contract": contract,
            "awaiting": awaiting,
            "refusals": refusals,
            "values": values,
            "errors": {name: translate(message) for name, message in (errors or {}).items()},
            "timezone": timezone_of(request).key,
            "document_type": lambda media_type: files.ACCEPTED.get(media_type, (media_type,))[0],
        },
        request=request,
        response=request.response,
    )


@view_config(route_name="tender_contract", request_method="GET", permission="buy", assurance=CLERK)
def contract_page(context, request):
    return _page(request, context)


def _posted(request) -> dict:
    return {name: value for name, value in request.POST.items() if isinstance(value, str)}


@view_config(
    route_name="tender_contract",
    request_method="POST",
    permission="buy",
    assurance=CLERK,
    accepts_files=True,
)
def record_contract_view(context, request):
    tender = context.tender
    now = request.clock.now()
    timezone = timezone_of(request)
    award = contracting_award(request.dbsession, tender, now)
    try:
        signed = read_contract(
            request.POST,
            tender,
            award,
            settings=request.registry.settings,
            today=now.astimezone(timezone).date(),
            timezone=timezone,
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return _page(request, context, form_refused(request, refused), _posted(request))
    record_contract(request.dbsession, tender, signed, actor=request.user, now=now)
    request.session.flash(
        request.localizer.translate(
            _(
                "The contract is recorded: the tender is complete and the winner's security "
                "given back."
            )
        )
    )
    return HTTPSeeOther(request.route_url("tender_contract", reference=tender.reference))


@view_config(route_name="tender_refusal", request_method="POST", permission="buy", assurance=CLERK)
def record_refusal_view(context, request):
    tender = context.tender
    now = request.clock.now()
    contracting_award(request.dbsession, tender, now)
    try:
        reason = read_refusal_reason(request.POST)
    except Refusal as refused:
        return _page(request, context, form_refused(request, refused), _posted(request))
    kept = record_refusal(request.dbsession, tender, reason, actor=request.user, now=now)
    request.session.flash(
        request.localizer.translate(
            _(
                "The refusal is recorded: the winner's security is kept, the award withdrawn "
                "and the tender is back in evaluation."
            )
            if kept
            else _(
                "The refusal is recorded: the award is withdrawn and the tender is back in "
                "evaluation. The winner held no security to keep: it was given back at an "
                "earlier award."
            )
        )
    )
    return HTTPSeeOther(request.route_url("buyer_tender", reference=tender.reference))


@view_config(route_name="tender_contract_document", request_method="GET", permission="view")
def contract_document(context, request):
    """The signed contract, public once the tender is complete."""
    tender = context.tender
    contract = tender.contract
    if contract is None or tender.status != state.COMPLETE:
        raise HTTPNotFound()
    # a recorded contract never changes
    return files.file_response(
        request, contract.file, contract.filename, "private, max-age=31536000, immutable"
    )


def includeme(config) -> None:
    buyers = {"factory": buyers_tender_factory}
    config.add_route("tender_contract", "/procurement/tenders/{reference}/contract", **buyers)
    config.add_route(
        "tender_refusal", "/procurement/tenders/{reference}/contract/refusal", **buyers
    )
    config.add_route(
        "tender_contract_document",
        "/tenders/{reference}/contract/document",
        factory="portal.procurement.resources.tender_factory",
    )
