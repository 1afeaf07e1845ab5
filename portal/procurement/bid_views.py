"""The bidder's pages: their organisation's bid on a tender (start, draft, pay, submit sealed,
replace, withdraw, confirm) and "My bids".

A representative acts for one of the organisations the identity provider released for them,
chosen on the page (``organisation``) when they have several. A bid is found only through
the person's own organisations, so another organisation's draft is never within reach: the
address is the same, the bid is theirs. Every POST carries the CSRF token.
"""

from __future__ import annotations

import logging
import uuid

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.documents.downloads import bytes_unread_if_cached, stored, stored_pdf
from portal.i18n import _
from portal.procurement import bids, files, state
from portal.procurement.bid_billing import charges_of
from portal.procurement.bid_money import bid_money
from portal.procurement.bid_standing import bid_standing
from portal.procurement.models import Bid, BidReceipt, BidVersion, Tender
from portal.refusals import MALFORMED, NOT_FOUND, UNAVAILABLE, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: how many of an organisation's bids "My bids" lists
BIDS_SHOWN = 200


def _organisation(request, required: bool = True):
    """The organisation this person acts for on this page: the one chosen, or their only one."""
    mine = sorted(request.user.organisations, key=lambda organisation: organisation.name)
    chosen = request.params.get("organisation", "")
    if isinstance(chosen, str) and chosen:
        for organisation in mine:
            if str(organisation.id) == chosen:
                return organisation
        raise Refusal(NOT_FOUND, _("You do not represent this organisation."))
    if len(mine) == 1:
        return mine[0]
    if required:
        raise Refusal(MALFORMED, _("Choose the organisation you bid for."))
    return None


def _bid(request, tender: Tender, organisation) -> Bid:
    bid = bids.bid_of(request.dbsession, tender, organisation)
    if bid is None:
        raise Refusal(NOT_FOUND, _("Your organisation has not started a bid on this tender."))
    return bid


def _back(request, tender: Tender, organisation) -> HTTPSeeOther:
    return HTTPSeeOther(
        request.route_url(
            "tender_bid", reference=tender.reference, _query={"organisation": organisation.id}
        )
    )


def _flash(request, message) -> None:
    request.session.flash(request.localizer.translate(message))


def _receipt_of(request, version) -> BidReceipt | None:
    if version is None:
        return None
    return request.dbsession.scalar(
        select(BidReceipt).where(BidReceipt.bid_version_id == version.id)
    )


def _page(request, tender: Tender, organisation, errors=None, values=None):
    """The bid page; ``values`` are what was typed, shown again when the form was refused."""
    translate = request.localizer.translate
    bid = bids.bid_of(request.dbsession, tender, organisation) if organisation else None
    values = dict(values or {})
    if bid is not None and not values:
        price, answers = bids.draft_of(bid, request.pii)
        if price is not None:
            values["price"] = str(price.decimal())
        for key, answer in answers.items():
            values[f"answer-{key}"] = answer
    version = bids.current_version(bid) if bid is not None else None
    return render_to_response(
        "procurement/bids/bid.jinja2",
        {
            "tender": tender,
            "tender_status": translate(state.LABELS[tender.status]),
            "organisation": organisation,
            "organisations": sorted(request.user.organisations, key=lambda o: o.name),
            "bid": bid,
            "bid_status": translate(bids.LABELS[bid.status]) if bid else "",
            "charges": charges_of(request.dbsession, bid) if bid else None,
            # after the opening: where the bid stands, what to do next, and all its money
            "standing": bid_standing(request, bid) if bid else None,
            "money_box": bid_money(request, bid) if bid and state.bids_opened(tender) else None,
            "criteria": bids.quality_criteria(tender),
            "documents": [
                (document.public_id, bids.document_name(document, request.pii))
                for document in bid.draft_documents
            ]
            if bid
            else [],
            "versions": list(reversed(bid.versions)) if bid else [],
            "version": version,
            "receipt": _receipt_of(request, version),
            "accepting": state.accepts_bids(tender, request.clock.now()),
            "values": values,
            "errors": {name: translate(message) for name, message in (errors or {}).items()},
            "idempotency_key": uuid.uuid4().hex + uuid.uuid4().hex[:8],
        },
        request=request,
        response=request.response,
    )


@view_config(route_name="tender_bid", request_method="GET", permission="bid")
def bid_page(context, request):
    return _page(request, context.tender, _organisation(request, required=False))


@view_config(route_name="tender_bid_start", request_method="POST", permission="bid")
def start(context, request):
    tender = context.tender
    organisation = _organisation(request)
    bid = bids.start_bid(
        request.dbsession,
        tender,
        organisation,
        user=request.user,
        now=request.clock.now(),
        timezone=request.clock.timezone,
    )
    log.info("bid %s started on tender %s", bid.public_id, tender.reference)
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_draft", request_method="POST", permission="bid")
def save_draft(context, request):
    """Keep the price and answers typed; a refused value shows the page again with it."""
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    values = {
        key: value
        for key, value in request.POST.items()
        if isinstance(value, str) and (key == "price" or key.startswith("answer-"))
    }
    try:
        typed = request.POST.get("price", "")
        price = (
            bids.read_price(typed, tender.currency)
            if isinstance(typed, str) and typed.strip()
            else None
        )
        answers = bids.read_answers(tender, request.POST)
        bids.save_draft(bid, price, answers, now=request.clock.now(), vault=request.pii)
    except Refusal as refused:
        return _page(request, tender, organisation, form_refused(request, refused), values)
    _flash(request, _("Draft saved. Only your organisation's representatives can see it."))
    return _back(request, tender, organisation)


@view_config(
    route_name="tender_bid_documents", request_method="POST", permission="bid", accepts_files=True
)
def add_document(context, request):
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    try:
        upload = files.check_upload(
            "document", request.POST.get("document"), request.registry.settings
        )
        bids.add_document(
            request.dbsession, bid, upload, now=request.clock.now(), vault=request.pii
        )
    except Refusal as refused:
        return _page(request, tender, organisation, form_refused(request, refused))
    _flash(request, _("The document was added to the draft."))
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_document_remove", request_method="POST", permission="bid")
def remove_document(context, request):
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    bids.remove_document(
        request.dbsession, bid, request.matchdict["document"], now=request.clock.now()
    )
    _flash(request, _("The document was removed from the draft."))
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_submit", request_method="POST", permission="bid")
def submit(context, request):
    """Seal and submit the draft (a replacement, if a version is in already)."""
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    try:
        version = bids.submit_bid(
            request.dbsession,
            request.registry,
            bid,
            user=request.user,
            clock=request.clock,
            locale=request.user.locale,  # the receipt is in the submitter's language
        )
    except Refusal as refused:
        return _page(request, tender, organisation, form_refused(request, refused))
    log.info("bid %s version %s submitted sealed", bid.public_id, version.number)
    _flash(
        request,
        _(
            "Your bid was sealed and submitted (version ${number}). The receipt is on its way.",
            mapping={"number": version.number},
        ),
    )
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_withdraw", request_method="POST", permission="bid")
def withdraw(context, request):
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    bids.withdraw_bid(request.dbsession, bid, clock=request.clock)
    log.info("bid %s withdrawn", bid.public_id)
    _flash(request, _("Your bid was withdrawn. A paid bid security is refunded to the card."))
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_confirm", request_method="POST", permission="bid")
def confirm(context, request):
    tender = context.tender
    organisation = _organisation(request)
    bid = _bid(request, tender, organisation)
    bids.confirm_bid(request.dbsession, bid, clock=request.clock)
    log.info("bid %s confirmed against tender version %s", bid.public_id, tender.version)
    _flash(request, _("You confirmed your bid for the amended tender."))
    return _back(request, tender, organisation)


@view_config(route_name="tender_bid_receipt", request_method="GET", permission="bid")
def receipt_pdf(context, request):
    """The signed submission receipt, exactly as stored, to the bidding organisation's
    representatives only (another organisation's receipt number finds nothing)."""
    tender = context.tender
    mine = [organisation.id for organisation in request.user.organisations]
    receipt = request.dbsession.scalar(
        select(BidReceipt)
        .join(BidVersion, BidReceipt.bid_version_id == BidVersion.id)
        .join(Bid, BidVersion.bid_id == Bid.id)
        .where(
            BidReceipt.number == request.matchdict["number"][:40],
            Bid.tender_id == tender.id,
            Bid.organisation_id.in_(mine),
        )
        .options(*bytes_unread_if_cached(request, BidReceipt))
    )
    if receipt is None:
        raise HTTPNotFound()
    if not stored(receipt):
        raise Refusal(
            UNAVAILABLE,
            _("The receipt is being prepared. Try again in a minute."),
            headers={"Retry-After": "30"},
        )
    return stored_pdf(request, receipt, f"{receipt.number}.pdf", "private, no-store")


@view_config(
    route_name="my_bids",
    request_method="GET",
    renderer="procurement/bids/my_bids.jinja2",
    permission="bid",
)
def my_bids(request):
    """Every bid of the organisations this person represents, newest first."""
    translate = request.localizer.translate
    organisations = [organisation.id for organisation in request.user.organisations]
    found = list(
        request.dbsession.scalars(
            select(Bid)
            .where(Bid.organisation_id.in_(organisations))
            .order_by(Bid.created_at.desc(), Bid.id.desc())
            .limit(BIDS_SHOWN)
        )
    )
    rows = []
    for bid in found:
        version = bids.current_version(bid)
        rows.append(
            {
                "bid": bid,
                "status": translate(bids.LABELS[bid.status]),
                "charges": charges_of(request.dbsession, bid),
                "version": version,
                "receipt": _receipt_of(request, version),
                "standing": bid_standing(request, bid),
            }
        )
    return {"rows": rows}


def includeme(config) -> None:
    config.include("portal.procurement.bid_billing")
    tender = {"factory": "portal.procurement.resources.tender_factory"}
    config.add_route("my_bids", "/bids")
    config.add_route("tender_bid", "/tenders/{reference}/bid", **tender)
    for name, path in (
        ("tender_bid_start", "start"),
        ("tender_bid_draft", "draft"),
        ("tender_bid_documents", "documents"),
        ("tender_bid_document_remove", "documents/{document}/remove"),
        ("tender_bid_submit", "submit"),
        ("tender_bid_withdraw", "withdraw"),
        ("tender_bid_confirm", "confirm"),
    ):
        config.add_route(name, f"/tenders/{{reference}}/bid/{path}", **tender)
    config.add_route("tender_bid_receipt", "/tenders/{reference}/bid/receipts/{number}", **tender)
    config.add_navigation_item("my_bids", _("My bids"), "bid")
