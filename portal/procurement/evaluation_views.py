"""The evaluation page of an opened tender: the ranking with its formula, the committee's
score sheet, the bid under examination with its opened documents, the buyer's decisions, the
award and, when every bid is disqualified, the end of the tender.

The tender's buyers and its committee members read the page and score the bids (permission
"open" on :class:`EvaluationContext`); only the buyers decide and award ("buy"). A refused
form shows the page again with its errors (422); an action the tender's state does not allow
is refused with the error page (409).
"""

from __future__ import annotations

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.money import Money
from portal.procurement import state
from portal.procurement.award import make_award, standstill_days
from portal.procurement.award_mail import mail_award_after_commit
from portal.procurement.complaint_views import buyer_complaints
from portal.procurement.evaluation import check_scoring_open, record_scores, score_field
from portal.procurement.models import DISQUALIFIED, QUALIFIED, REFUSED_TO_SIGN, Tender
from portal.procurement.opening import opened_answers
from portal.procurement.qualification import (
    decide,
    declare_unsuccessful,
    read_reason,
    standing,
)
from portal.procurement.resources import tender_factory
from portal.refusals import CONFLICT, INVALID, Refusal
from portal.security import buyer_principal, user_principal
from portal.templating import portal_timezone
from portal.web import form_refused

#: the statuses whose evaluation there is to show: under way, or done
SHOWN = frozenset(
    {state.EVALUATION, state.STANDSTILL, state.CONTRACTING, state.COMPLETE, state.UNSUCCESSFUL}
)


class EvaluationContext:
    """A tender's evaluation: its buyers may do everything ("open", "buy"), its committee
    members read and score ("open"), once the bids are opened."""

    def __init__(self, tender: Tender):
        self.tender = tender

    @property
    def __acl__(self):
        tender = self.tender
        if not state.bids_opened(tender):
            return []
        buyer = buyer_principal(tender.department_id)
        members = [(Allow, user_principal(seat.member_id), "open") for seat in tender.committee]
        return [(Allow, buyer, "open"), (Allow, buyer, "buy"), *members]


def evaluation_factory(request) -> EvaluationContext:
    return EvaluationContext(tender_factory(request).tender)


def _check_shown(tender: Tender) -> None:
    if tender.status not in SHOWN:
        raise Refusal(CONFLICT, _("The bids are not up for evaluation yet."), about=tender)


def _documents(request, tender: Tender, version) -> list[dict]:
    return [
        {
            "filename": document.filename,
            "url": request.route_path(
                "opened_bid_document", reference=tender.reference, document=document.public_id
            ),
        }
        for document in version.opened_documents
    ]


def render_page(request, context, errors=None, values=None):
    tender = context.tender
    _check_shown(tender)
    dbsession = request.dbsession
    now_standing = standing(dbsession, tender)
    translate = request.localizer.translate
    scoring_open = True
    try:
        check_scoring_open(dbsession, tender)
    except Refusal:
        scoring_open = False
    is_buyer = request.has_permission("buy", context)
    examined = now_standing.examined
    qualified = now_standing.qualified
    evaluating = tender.status == state.EVALUATION
    return render_to_response(
        "procurement/evaluation/evaluation.jinja2",
        {
            "tender": tender,
            "status_label": translate(state.LABELS[tender.status]),
            "ranking": now_standing.ranking,
            "lowest": Money(now_standing.ranking.lowest_minor or 0, tender.currency),
            "decisions": now_standing.decisions,
            "score_field": score_field,
            "scoring_open": scoring_open,
            "is_buyer": is_buyer,
            "examined": examined if evaluating else None,
            "examined_documents": _documents(request, tender, examined.valid.version)
            if examined is not None
            else [],
            "examined_answers": opened_answers(examined.valid.version)
            if examined is not None
            else [],
            "to_award": qualified if evaluating else None,
            "may_end": evaluating and now_standing.all_disqualified,
            "awards": tender.awards,
            "tender_complaints": buyer_complaints(request, tender) if is_buyer else [],
            "history": sorted(tender.decisions, key=lambda d: d.id),
            "outcomes": {
                QUALIFIED: translate(_("Qualified")),
                DISQUALIFIED: translate(_("Disqualified")),
                REFUSED_TO_SIGN: translate(_("Refused to sign the contract")),
            },
            "errors": {name: translate(m) for name, m in (errors or {}).items()},
            "values": values or {},
        },
        request=request,
        response=request.response,
    )


def _back(request, tender: Tender):
    return HTTPSeeOther(request.route_url("tender_evaluation", reference=tender.reference))


def _flash(request, message) -> None:
    request.session.flash(request.localizer.translate(message))


def _posted(request) -> dict[str, str]:
    return {k: v for k, v in request.POST.items() if isinstance(v, str)}


@view_config(
    route_name="tender_evaluation", request_method="GET", permission="open", assurance=CLERK
)
def evaluation_page(context, request):
    return render_page(request, context)


@view_config(route_name="tender_scores", request_method="POST", permission="open", assurance=CLERK)
def scores(context, request):
    tender = context.tender
    try:
        changed = record_scores(
            request.dbsession, tender, request.POST, now=request.clock.now(), actor=request.user
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return render_page(request, context, form_refused(request, refused), _posted(request))
    _flash(request, _("The scores are saved (${count} changed).", mapping={"count": changed}))
    return _back(request, tender)


@view_config(
    route_name="tender_qualification", request_method="POST", permission="buy", assurance=CLERK
)
def qualification(context, request):
    tender = context.tender
    outcome = request.POST.get("outcome", "")
    try:
        reason = read_reason(
            request.POST,
            "reason",
            _("Write why the bid is qualified or disqualified."),
        )
        decide(
            request.dbsession,
            tender,
            bid_public_id=request.POST.get("bid", ""),
            outcome=outcome,
            reason=reason,
            now=request.clock.now(),
            actor=request.user,
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return render_page(request, context, form_refused(request, refused), _posted(request))
    _flash(
        request,
        _("The bid is qualified.") if outcome == QUALIFIED else _("The bid is disqualified."),
    )
    return _back(request, tender)


@view_config(route_name="tender_award", request_method="POST", permission="buy", assurance=CLERK)
def award(context, request):
    tender = context.tender
    try:
        reasons = read_reason(request.POST, "reasons", _("Write the reasons for the award."))
        made = make_award(
            request.dbsession,
            tender,
            bid_public_id=request.POST.get("bid", ""),
            reasons=reasons,
            now=request.clock.now(),
            actor=request.user,
            days=standstill_days(request.registry.settings),
            timezone=portal_timezone(request),
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return render_page(request, context, form_refused(request, refused), _posted(request))
    mail_award_after_commit(request.dbsession, made)
    _flash(request, _("The tender is awarded. The bidders are told; the standstill has begun."))
    return _back(request, tender)


@view_config(
    route_name="tender_unsuccessful", request_method="POST", permission="buy", assurance=CLERK
)
def unsuccessful(context, request):
    tender = context.tender
    try:
        reason = read_reason(
            request.POST, "unsuccessful_reason", _("Write why the tender is unsuccessful.")
        )
        declare_unsuccessful(
            request.dbsession, tender, reason=reason, now=request.clock.now(), actor=request.user
        )
    except Refusal as refused:
        if refused.kind != INVALID:
            raise
        return render_page(request, context, form_refused(request, refused), _posted(request))
    _flash(request, _("The tender is declared unsuccessful."))
    return _back(request, tender)


def includeme(config) -> None:
    standstill_days(config.get_settings())  # a bad setting stops the start, not an award
    evaluation = {"factory": "portal.procurement.evaluation_views.evaluation_factory"}
    base = "/procurement/tenders/{reference}/evaluation"
    config.add_route("tender_evaluation", base, **evaluation)
    config.add_route("tender_scores", f"{base}/scores", **evaluation)
    config.add_route("tender_qualification", f"{base}/decisions", **evaluation)
    config.add_route("tender_award", f"{base}/award", **evaluation)
    config.add_route("tender_unsuccessful", f"{base}/unsuccessful", **evaluation)
