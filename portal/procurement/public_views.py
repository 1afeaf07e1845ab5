"""What anyone sees of tenders: the list with its search and filters, a tender's page and its
documents; and bidders' questions and the buyer's answers.

Pages show each tender's status as the clock says it is now
(:func:`portal.procurement.state.due_status`) and write nothing: a GET never writes in this
portal, so recording the transition is left to the clock's job
(:mod:`portal.procurement.jobs`), and every action that depends on a period (asking, bidding)
checks it against the request's own clock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math

from babel.numbers import format_decimal
from babel.units import format_unit
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.dates import as_text, query_day, typed_parts
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.procurement import listing, questions, state, timeline
from portal.procurement.files import file_response
from portal.procurement.links import route_exists
from portal.procurement.local_times import local_time
from portal.procurement.models import BEST_VALUE, OpeningProtocol, Tender, TenderDocument
from portal.procurement.opening_views import opened_rows
from portal.refusals import FORBIDDEN, MALFORMED, FieldError, Refusal
from portal.security import PUBLIC
from portal.templating import locale_name
from portal.web import form_refused, query_page

log = logging.getLogger(__name__)

TENDERS_PER_PAGE = 20


def time_left(request, now: dt.datetime, until: dt.datetime | None) -> str:
    """How long until ``until`` in days, hours and minutes ("3 days 4 hours"), rounded up
    so that it never reads "0 minutes" while there is still time; empty once it has passed."""
    if until is None or now >= until:
        return ""
    minutes = math.ceil((until - now).total_seconds() / 60)  # 30 seconds left: "1 minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    locale = locale_name(request)
    parts = [
        format_unit(value, unit, length="long", locale=locale)
        for value, unit in ((days, "duration-day"), (hours, "duration-hour"))
        if value
    ]
    if not days and (minutes or not hours):
        parts.append(format_unit(minutes, "duration-minute", length="long", locale=locale))
    return " ".join(parts)


def status_label(request, status: str) -> str:
    return request.localizer.translate(state.LABELS[status])


# -- the list ------------------------------------------------------------------------------


def _day_filter(request, name: str, typed: dict, errors: list) -> dt.date | None:
    parts = typed_parts(request.GET, name)
    typed[name] = as_text(parts) if parts is not None else request.GET.get(name, "")
    try:
        return query_day(request, name)
    except Refusal as refusal:
        errors.append(FieldError(name, refusal.message))
        return None


def read_filters(
    request, buyers: list
) -> tuple[listing.TenderFilters, dict[str, str], list[FieldError]]:
    """The filters asked for, what was typed (to show again) and what could not be read;
    ``buyers`` are the departments one may filter by."""
    get = request.GET
    typed = {name: get.get(name, "").strip() for name in ("q", "status", "buyer", "cpv")}
    errors: list[FieldError] = []
    if len(typed["q"]) > listing.MAX_QUERY:
        errors.append(
            FieldError(
                "q",
                _("Search for at most ${limit} characters.", mapping={"limit": listing.MAX_QUERY}),
            )
        )
    if typed["status"] and typed["status"] not in listing.STATUSES:
        errors.append(FieldError("status", _("Choose a status from the list.")))
    if typed["buyer"] and typed["buyer"] not in {d.code for d in buyers}:
        errors.append(FieldError("buyer", _("Choose a buyer from the list.")))
    cpv = listing.CPV_PREFIX.match(typed["cpv"]) if typed["cpv"] else None
    if typed["cpv"] and cpv is None:
        errors.append(
            FieldError(
                "cpv",
                _("Write a CPV code or its first digits, for example 45 or 45233252-0."),
            )
        )
    first = _day_filter(request, "from", typed, errors)
    last = _day_filter(request, "to", typed, errors)
    if first and last and last < first:
        errors.append(FieldError("to", _("The last day comes before the first day.")))
    zone = request.clock.timezone
    filters = listing.TenderFilters(
        text=typed["q"],
        status=typed["status"],
        buyer=typed["buyer"],
        cpv_prefix=cpv.group(1) if cpv else "",
        deadline_from=_start_of(first, zone) if first else None,
        deadline_before=_start_of(last + dt.timedelta(days=1), zone) if last else None,
    )
    return filters, typed, errors


def _start_of(day: dt.date, zone) -> dt.datetime:
    """When ``day`` begins where the portal is: deadlines on the 28th are those from local
    midnight, whatever UTC says."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


@view_config(
    route_name="tenders",
    request_method="GET",
    renderer="procurement/public/tenders.jinja2",
    permission=PUBLIC,
)
def tenders(request):
    """Published tenders; a filter that cannot be read is marked on the form (400) and
    nothing is listed rather than everything."""
    buyers = listing.buyers(request.dbsession)
    filters, typed, errors = read_filters(request, buyers)
    now = request.clock.now()
    page = query_page(request)
    shown, more = [], False
    refused = {}
    if errors:
        refused = form_refused(
            request,
            Refusal(
                MALFORMED,
                _("Some filters could not be read. Correct what is marked."),
                errors=errors,
            ),
        )
    else:
        rows = list(
            request.dbsession.scalars(
                listing.published_tenders(filters, now)
                .options(selectinload(Tender.items), joinedload(Tender.department))
                .offset((page - 1) * TENDERS_PER_PAGE)
                .limit(TENDERS_PER_PAGE + 1)
            )
        )
        shown, more = rows[:TENDERS_PER_PAGE], len(rows) > TENDERS_PER_PAGE
    translate = request.localizer.translate
    query = {name: value for name, value in typed.items() if value}
    return {
        "rows": [
            {
                "tender": tender,
                "status": state.due_status(tender, now),
                "status_label": status_label(request, state.due_status(tender, now)),
                "deadline": local_time(request, tender.bids_until),
                "cpv": sorted({item.cpv_code for item in tender.items}),
            }
            for tender in shown
        ],
        "typed": typed,
        "errors": {field: translate(message) for field, message in refused.items()},
        "statuses": [(code, status_label(request, code)) for code in listing.STATUSES],
        "buyers": buyers,
        "page": page,
        "previous_url": (
            request.route_path("tenders", _query={**query, "page": page - 1}) if page > 1 else None
        ),
        "next_url": (
            request.route_path("tenders", _query={**query, "page": page + 1}) if more else None
        ),
    }


# -- a tender's page -----------------------------------------------------------------------


def _shown_value(request, value) -> str:
    """A value of a version's changes as people read it: times in local time."""
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return local_time(request, moment)
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def versions(request, tender) -> list[dict]:
    """Each published version with what it changed."""
    found = []
    for version in tender.versions:
        try:
            changes = json.loads(version.changes_json or "[]")
        except ValueError:
            changes = []
        found.append(
            {
                "number": version.number,
                "at": local_time(request, version.at),
                "reason": version.reason,
                "changes": [
                    {
                        "field": str(change.get("field", "")),
                        "before": _shown_value(request, change.get("before")),
                        "after": _shown_value(request, change.get("after")),
                    }
                    for change in changes
                    if isinstance(change, dict)
                ],
            }
        )
    return found


def may_bid_for(request) -> list:
    """The organisations the signed-in person represents (none for anyone else)."""
    user = request.user
    return list(user.organisations) if user is not None else []


def tender_values(request, context) -> dict:
    """What a tender's page shows. The committee appears as its size and threshold, never
    its members' names: named before the opening, they would be the people to press for an
    early look or a failed opening; the opening protocol names them once the bids are open."""
    tender = context.tender
    now = request.clock.now()
    due = state.due_status(tender, now)
    organisations = may_bid_for(request)
    bidder = bool(organisations) and bool(request.has_permission("bid", context))
    protocol = state.prices_public(tender) and (
        request.dbsession.scalar(
            select(OpeningProtocol.id).where(OpeningProtocol.opened_tender_id == tender.id)
        )
        is not None
    )
    return {
        "tender": tender,
        "status": due,
        "status_label": status_label(request, due),
        "periods": [
            (request.localizer.translate(label), local_time(request, moment))
            for label, moment in (
                (_("Questions until"), tender.questions_until),
                (_("Bids until (deadline)"), tender.bids_until),
                (_("Opening of bids"), tender.opening_at),
            )
        ],
        "time_left": (
            time_left(request, now, tender.bids_until) if due in state.OPEN_FOR_BIDS else ""
        ),
        "questions_left": (
            time_left(request, now, tender.questions_until) if due == state.QUESTIONS else ""
        ),
        "published": local_time(request, tender.published_at),
        "items": [
            (item, format_decimal(item.quantity, locale=locale_name(request)))
            for item in tender.items
        ],
        "best_value": tender.award_criterion == BEST_VALUE,
        "documents": [d for d in tender.documents if d.removed_in_version is None],
        "removed_documents": [d for d in tender.documents if d.removed_in_version is not None],
        "versions": versions(request, tender),
        "answered": [
            {"question": q, "answered_at": local_time(request, q.answered_at)}
            for q in questions.answered(tender)
        ],
        "mine": questions.awaiting_answer_by(tender, request.user),
        "may_ask": bidder and state.accepts_questions(tender, now),
        "organisations": organisations,
        "bid_url": (
            request.route_path("tender_bid", reference=tender.reference)
            if bidder and state.accepts_bids(tender, now) and route_exists(request, "tender_bid")
            else None
        ),
        "protocol_url": (
            request.route_path("tender_protocol", reference=tender.reference)
            if protocol and route_exists(request, "tender_protocol")
            else None
        ),
        # once opened, the bids are public as the protocol states them (bidders, prices,
        # times, hashes); their documents and answers stay with the committee and the buyers;
        # during the auction the prices wait (see state.prices_public)
        "opened_rows": opened_rows(request, tender) if state.prices_public(tender) else None,
        "prices_after_auction": state.bids_opened(tender) and not state.prices_public(tender),
        "answers_url": (
            request.route_path("tender_answers", reference=tender.reference)
            if request.has_permission("buy", context)
            else None
        ),
        "timeline": timeline.tender_timeline(request, tender),
        "waiting": sum(1 for q in tender.questions if q.answered_at is None),
        "max_text": questions.MAX_TEXT,
        "typed": {},
        "errors": {},
    }


@view_config(
    route_name="tender",
    request_method="GET",
    renderer="procurement/public/tender.jinja2",
    permission="view",
)
def tender_page(context, request):
    return tender_values(request, context)


@view_config(route_name="tender_document", request_method="GET", permission="view")
def tender_document(context, request):
    """A document of the tender. A document the buyer removed by an amendment stays
    downloadable: it is part of the record of what bidders were given, and the page lists it
    as removed."""
    document = request.dbsession.scalar(
        select(TenderDocument).where(
            TenderDocument.tender_id == context.tender.id,
            TenderDocument.public_id == request.matchdict["document"],
        )
    )
    if document is None:
        raise HTTPNotFound()
    # the bytes under a document's id never change: a replaced file is a new document
    return file_response(
        request, document.file, document.filename, "private, max-age=31536000, immutable"
    )


# -- questions -----------------------------------------------------------------------------


def chosen_organisation(request, organisations: list):
    """The organisation the question is asked for: the only one, or the one chosen."""
    if len(organisations) == 1:
        return organisations[0]
    wanted = request.POST.get("organisation", "")
    for organisation in organisations:
        if organisation.registration_number == wanted:
            return organisation
    raise Refusal(
        MALFORMED,
        _("Choose the organisation you ask for."),
        errors=[FieldError("organisation", _("Choose the organisation you ask for."))],
    )


@view_config(
    route_name="tender_questions",
    request_method="POST",
    renderer="procurement/public/tender.jinja2",
    permission="bid",
)
def ask_question(context, request):
    tender = context.tender
    organisations = may_bid_for(request)
    if not organisations:
        raise Refusal(FORBIDDEN, _("Only representatives of an organisation may ask questions."))
    text = request.POST.get("text", "")
    try:
        organisation = chosen_organisation(request, organisations)
        questions.ask(
            request.dbsession,
            tender,
            asker=request.user,
            organisation=organisation,
            text=text,
            now=request.clock.now(),
        )
    except Refusal as refusal:
        translate = request.localizer.translate
        values = tender_values(request, context)
        errors = form_refused(request, refusal)
        values["errors"] = {field: translate(message) for field, message in errors.items()}
        values["typed"] = {"text": text if isinstance(text, str) else ""}
        return values
    log.info("question asked on tender %s", tender.reference)
    request.session.flash(
        request.localizer.translate(
            _("Your question was sent. Its answer will be published on this page.")
        )
    )
    return HTTPSeeOther(
        request.route_url("tender", reference=tender.reference, _anchor="questions")
    )


@view_config(
    route_name="tender_answers",
    request_method="GET",
    renderer="procurement/public/answers.jinja2",
    permission="buy",
    assurance=CLERK,
)
def answers_page(context, request):
    return answers_values(request, context)


def answers_values(request, context) -> dict:
    tender = context.tender
    now = request.clock.now()
    return {
        "tender": tender,
        "status": state.due_status(tender, now),
        "status_label": status_label(request, state.due_status(tender, now)),
        "open": [q for q in tender.questions if q.answered_at is None],
        "done": questions.answered(tender),
        "may_answer": questions.may_answer(tender, now),
        "max_text": questions.MAX_TEXT,
        "typed": {},
        "errors": {},
        "refused_question": None,
    }


@view_config(
    route_name="tender_answers",
    request_method="POST",
    renderer="procurement/public/answers.jinja2",
    permission="buy",
    assurance=CLERK,
)
def answer_question(context, request):
    tender = context.tender
    public_id = request.POST.get("question", "")
    text = request.POST.get("answer", "")
    try:
        questions.answer(
            request.dbsession,
            tender,
            public_id,
            answerer=request.user,
            text=text,
            now=request.clock.now(),
        )
    except Refusal as refusal:
        if not refusal.errors:
            raise
        translate = request.localizer.translate
        values = answers_values(request, context)
        errors = form_refused(request, refusal)
        values["errors"] = {field: translate(message) for field, message in errors.items()}
        values["typed"] = {"answer": text if isinstance(text, str) else ""}
        values["refused_question"] = public_id
        return values
    log.info("question answered on tender %s", tender.reference)
    request.session.flash(request.localizer.translate(_("The answer is published.")))
    return HTTPSeeOther(request.route_url("tender_answers", reference=tender.reference))


def includeme(config) -> None:
    tender = {"factory": "portal.procurement.resources.tender_factory"}
    config.add_route("tenders", "/tenders")
    config.add_route("tender", "/tenders/{reference}", **tender)
    config.add_route("tender_document", "/tenders/{reference}/documents/{document}", **tender)
    config.add_route("tender_questions", "/tenders/{reference}/questions", **tender)
    config.add_route("tender_answers", "/procurement/tenders/{reference}/questions", **tender)
    config.add_navigation_item("tenders", _("Tenders"), "browse")
