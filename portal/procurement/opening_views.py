"""The committee's opening page, the opened bids' documents and the published protocol.

The opening page is the committee members' (permission "open"): before the opening time it
says when; then each member types their passphrase to unlock their share; after the opening
it lists the bids as opened. Every request moves the tender on by the clock first, so a
tender whose deadline passed before its job ran is opened all the same.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.documents.downloads import stored, stored_pdf
from portal.documents.kinds import document_issuer
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.money import Money
from portal.procurement import files, opening, state
from portal.procurement.committee_keys import DamagedCommitteeKey, WrongPassphrase
from portal.procurement.models import Bid, BidVersion, OpenedBidDocument, Tender
from portal.procurement.resources import tender_factory
from portal.procurement.tenders import committee_key_of
from portal.ratelimit import RateLimiter, rate_limiter
from portal.refusals import CONFLICT, INVALID, NOT_FOUND, TOO_MANY, UNAVAILABLE, FieldError, Refusal
from portal.security import PUBLIC, buyer_principal, user_principal
from portal.web import form_refused

log = logging.getLogger(__name__)

_UNLOCK_LIMITER = "procurement.unlock_limiter"
#: attempts at a committee key's passphrase, per key and process, in UNLOCK_WINDOW seconds
UNLOCK_ATTEMPTS = 5
UNLOCK_WINDOW = 15 * 60


def unlock_limiter(registry) -> RateLimiter:
    return registry[_UNLOCK_LIMITER]


class OpenedDocumentContext:
    """A document of an opened bid: the committee and the tender's buyers may download it,
    and only once the tender is opened. ``document`` is None when the URL names none of
    the tender's (the view answers 404 to those who may ask)."""

    def __init__(self, tender: Tender, document: OpenedBidDocument | None):
        self.tender = tender
        self.document = document

    @property
    def __acl__(self):
        if not state.bids_opened(self.tender):
            return []
        members = [
            (Allow, user_principal(seat.member_id), "open") for seat in self.tender.committee
        ]
        return [(Allow, buyer_principal(self.tender.department_id), "open"), *members]


def opened_document_factory(request) -> OpenedDocumentContext:
    tender = tender_factory(request).tender
    document = request.dbsession.scalar(
        select(OpenedBidDocument)
        .join(BidVersion, OpenedBidDocument.version_id == BidVersion.id)
        .join(Bid, BidVersion.bid_id == Bid.id)
        .where(
            OpenedBidDocument.public_id == request.matchdict["document"][:32],
            Bid.tender_id == tender.id,
        )
    )
    return OpenedDocumentContext(tender, document)


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def opened_rows(request, tender: Tender) -> list[dict]:
    """Each opened bid as the page and the committee see it: who, how much, when, the hash,
    the answers to the quality criteria and any flag (a fault, or an amendment the bidder
    never confirmed)."""
    rows = []
    for version in opening.current_versions(request.dbsession, tender):
        price = (
            Money(version.opened_price_minor, tender.currency)
            if version.opened_price_minor is not None
            else None
        )
        rows.append(
            {
                "organisation": version.bid.organisation.name,
                "price": price,
                "answers": opening.opened_answers(version),
                "submitted_at": version.submitted_at,
                "submitted_utc": utc_text(version.submitted_at),
                "sha256": version.sha256,
                "fault": version.opening_fault,
                "needs_confirmation": version.bid.needs_confirmation,
                "documents": [
                    {
                        "filename": document.filename,
                        "url": request.route_path(
                            "opened_bid_document",
                            reference=tender.reference,
                            document=document.public_id,
                        ),
                    }
                    for document in version.opened_documents
                ],
            }
        )
    return rows


def page_values(request, tender: Tender, errors=None) -> dict:
    now = request.clock.now()
    unlocked = {
        share.member_id
        for share in opening.waiting_shares(request.dbsession, tender)
        if opening.waiting_mnemonic(request.pii, share) is not None
    }
    if state.bids_opened(tender):
        phase = "opened"
    elif tender.status == state.CANCELLED:
        phase = "cancelled"
    elif opening.can_unlock(tender, now):
        phase = "unlocking"
    else:
        phase = "not_yet"
    translate = request.localizer.translate
    protocol = opening.protocol_of(request.dbsession, tender) if phase == "opened" else None
    return {
        "tender": tender,
        "phase": phase,
        "status_label": translate(state.LABELS[tender.status]),
        "opening_utc": utc_text(tender.opening_at) if tender.opening_at else "",
        "members": [
            {"name": seat.member.display_name, "unlocked": seat.member_id in unlocked}
            for seat in tender.committee
        ],
        "missing": max(0, tender.committee_threshold - len(unlocked)),
        "mine_unlocked": request.user.id in unlocked,
        "rows": opened_rows(request, tender) if phase == "opened" else [],
        "protocol": protocol,
        "errors": {field: translate(message) for field, message in (errors or {}).items()},
    }


def render_page(request, tender: Tender, errors=None):
    return render_to_response(
        "procurement/opening/opening.jinja2",
        page_values(request, tender, errors),
        request=request,
        response=request.response,
    )


@view_config(route_name="tender_opening", request_method="GET", permission="open", assurance=CLERK)
def opening_page(context, request):
    state.advance(request.dbsession, context.tender, request.clock.now())
    return render_page(request, context.tender)


@view_config(route_name="tender_opening", request_method="POST", permission="open", assurance=CLERK)
def unlock_share(context, request):
    """A member unlocks their share; the m-th opens the bids and issues the protocol."""
    tender = context.tender
    now = request.clock.now()
    state.advance(request.dbsession, tender, now)
    passphrase = request.POST.get("passphrase", "")
    try:
        if not passphrase:
            raise Refusal(
                INVALID,
                _("Type your committee passphrase."),
                errors=[FieldError("passphrase", _("Type your committee passphrase."))],
            )
        _within_attempts(request, tender)
        unlocked = opening.unlock(
            request.dbsession, tender, request.user, passphrase, request.pii, now
        )
    except WrongPassphrase:
        log.warning(
            "tender %s: a wrong committee passphrase from user %s",
            tender.reference,
            request.user.id,
        )
        refusal = Refusal(
            INVALID,
            _("That passphrase does not unlock your committee key. Nothing was counted."),
            errors=[
                FieldError(
                    "passphrase",
                    _("That passphrase does not unlock your committee key. Nothing was counted."),
                )
            ],
        )
        errors = form_refused(request, refusal)
        return render_page(request, tender, errors)
    except DamagedCommitteeKey:
        log.error(
            "tender %s: the committee key of user %s is damaged", tender.reference, request.user.id
        )
        refusal = Refusal(CONFLICT, _("Your stored committee key is damaged. Nothing was counted."))
        return render_page(request, tender, {"": form_refused(request, refusal)[""]})
    except Refusal as refusal:
        if refusal.kind == TOO_MANY:
            raise
        return render_page(request, tender, form_refused(request, refusal))
    if unlocked.opened:
        opening.issue_protocol(
            document_issuer(request.registry), request.dbsession, tender, request.user, now
        )
        request.session.flash(request.localizer.translate(_("The bids are opened.")))
    else:
        request.session.flash(
            request.localizer.translate(
                _(
                    "Your share is unlocked. ${missing} more needed to open the bids.",
                    mapping={"missing": unlocked.missing},
                )
            )
        )
    return HTTPSeeOther(request.route_url("tender_opening", reference=tender.reference))


def _within_attempts(request, tender: Tender) -> None:
    """A few tries at a committee key's passphrase in a while, counted per key: enough for
    typing mistakes, too few for guessing beside the slow key derivation."""
    key = committee_key_of(request.dbsession, request.user)
    if key is None:
        return
    if not unlock_limiter(request.registry).allow(
        key.public_key.hex(), now=request.clock.now().timestamp()
    ):
        log.warning(
            "tender %s: passphrase attempts limit reached by user %s",
            tender.reference,
            request.user.id,
        )
        raise Refusal(
            TOO_MANY,
            _("Too many attempts at your passphrase. Wait 15 minutes and try again."),
            headers={"Retry-After": str(UNLOCK_WINDOW)},
        )


@view_config(
    route_name="opened_bid_document", request_method="GET", permission="open", assurance=CLERK
)
def opened_bid_document(context, request):
    document = context.document
    if document is None:
        raise HTTPNotFound()
    return files.file_response(request, document.file, document.filename)


@view_config(route_name="tender_protocol", request_method="GET", permission=PUBLIC)
def tender_protocol(context, request):
    """The signed opening protocol, anyone's once the tender is opened and its auction, if any,
    has finished (the committee and the buyers have it from the opening; a draft is found
    only by its buyers, see the factory); "being prepared" in the moment between the opening
    and the rendering that follows its commit."""
    tender = context.tender
    protocol = opening.protocol_of(request.dbsession, tender)
    insider = request.has_permission("open", context) or request.has_permission("buy", context)
    if not (state.prices_public(tender) or (state.bids_opened(tender) and insider)):
        protocol = None
    if protocol is None:
        raise Refusal(NOT_FOUND, _("This tender has no opening protocol yet."))
    if not stored(protocol):
        raise Refusal(
            UNAVAILABLE,
            _("The opening protocol is being prepared. Try again in a minute."),
            headers={"Retry-After": "30"},
        )
    return stored_pdf(request, protocol, f"{protocol.number}.pdf", "public, no-cache")


def includeme(config) -> None:
    config.registry[_UNLOCK_LIMITER] = rate_limiter(
        config.registry.settings, "committee-unlock", UNLOCK_ATTEMPTS, UNLOCK_WINDOW
    )
    tender = {"factory": "portal.procurement.resources.tender_factory"}
    config.add_route("tender_opening", "/procurement/tenders/{reference}/opening", **tender)
    config.add_route(
        "opened_bid_document",
        "/procurement/tenders/{reference}/opening/documents/{document}",
        factory="portal.procurement.opening_views.opened_document_factory",
    )
    config.add_route("tender_protocol", "/tenders/{reference}/protocol", **tender)
    config.include("portal.procurement.committee_views")
