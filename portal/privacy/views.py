"""The person's download of their data, and the administrator's erasure requests."""

from __future__ import annotations

import datetime as dt
import json
import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from portal.applications.state import LABELS as APPLICATION_LABELS
from portal.cases import state as case_state
from portal.cases.kinds import case_kinds
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import User
from portal.money import Money
from portal.privacy.erasure import check_erasable, erase, erasure_plan
from portal.privacy.export import personal_data
from portal.privacy.people import ERASED, is_erased
from portal.privacy.retention import retention_policy
from portal.procurement.bid_standing import COMPLAINT_LABELS
from portal.procurement.bids import LABELS as BID_LABELS
from portal.refusals import INVALID, NOT_FOUND, FieldError, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: a search shows at most this many people; a longer list means a more precise search
MAX_FOUND = 20
#: an account id fits a 64-bit integer column
MAX_ID_DIGITS = 18


@view_config(
    route_name="account_data",
    request_method="GET",
    renderer="privacy/your_data.jinja2",
    permission="account",
)
def your_data(request):
    """Everything the portal holds about me, readable: statuses in the words the other pages
    use (billing's are template globals), the codes of the JSON download only as a fallback."""
    translate = request.localizer.translate
    kinds = case_kinds(request.registry)
    return {
        "data": personal_data(
            request.dbsession,
            request.user,
            request.pii,
            request.clock.now(),
            request.localizer.locale_name,
        ),
        "moment": dt.datetime.fromisoformat,
        "day_of": dt.date.fromisoformat,
        "today": request.clock.today(),
        "money_of": lambda value: Money(value["minor_units"], value["currency"]),
        "labels": {
            "application": _translated(translate, APPLICATION_LABELS),
            "bid": _translated(translate, BID_LABELS),
            "complaint": _translated(translate, COMPLAINT_LABELS),
            "case": _translated(translate, case_state.PUBLIC_LABELS),
            "case_kind": {code: translate(kind.label) for code, kind in kinds.items()},
        },
        "outcome_label": lambda code: case_state.outcome_label(translate, code),
    }


def _translated(translate, labels: dict) -> dict[str, str]:
    return {code: translate(label) for code, label in labels.items()}


@view_config(route_name="account_data_json", request_method="GET", permission="account")
def your_data_json(request):
    """The same, as a JSON file to keep or to take elsewhere."""
    data = personal_data(
        request.dbsession,
        request.user,
        request.pii,
        request.clock.now(),
        request.localizer.locale_name,
    )
    log.info("personal data downloaded")
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False),
        content_type="application/json",
        charset="utf-8",
        content_disposition='attachment; filename="your-data.json"',
        cache_control="no-store",
    )


def _found(request, query: str) -> list[User]:
    """People whose name or e-mail contains ``query``, or whose national identifier it is."""
    words = query.strip()
    if len(words) < 3:
        error = FieldError(
            "query", _("Type three or more characters of a name, e-mail or identifier.")
        )
        raise Refusal(INVALID, error.message, errors=[error])
    needle = words.casefold()
    full_name = func.lower(User.given_name + " " + User.family_name)
    return list(
        request.dbsession.scalars(
            select(User)
            .where(
                User.idp_entity_id != ERASED,
                or_(
                    full_name.contains(needle, autoescape=True),
                    func.lower(User.email).contains(needle, autoescape=True),
                    User.national_id_hash == request.pii.lookup_hash(words),
                ),
            )
            .order_by(User.family_name, User.given_name, User.id)
            .limit(MAX_FOUND)
        )
    )


@view_config(
    route_name="admin_erasure",
    request_method="GET",
    renderer="privacy/erasure_search.jinja2",
    permission="administer",
    assurance=CLERK,
)
def erasure_search_form(request):
    return {"found": None, "errors": {}, "query": ""}


@view_config(
    route_name="admin_erasure",
    request_method="POST",
    renderer="privacy/erasure_search.jinja2",
    permission="administer",
    assurance=CLERK,
)
def erasure_search(request):
    """Find the person of a request. A POST, so that what was searched for (a name, an
    identifier) never stands in a URL or an access log."""
    query = request.POST.get("query", "")[:200]
    try:
        found = _found(request, query)
    except Refusal as refused:
        return {"found": None, "errors": form_refused(request, refused), "query": query}
    return {"found": found, "errors": {}, "query": query}


def _person(request) -> User:
    text = request.matchdict["person"]
    person = None
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
        person = request.dbsession.get(User, int(text))
    if person is None:
        raise Refusal(NOT_FOUND, _("There is no such person."))
    return person


def _plan_page(request, person: User, errors=None) -> dict:
    now = request.clock.now()
    return {
        "person": person,
        "erased": is_erased(person),
        "plan": erasure_plan(request.dbsession, person, retention_policy(request.registry), now),
        "errors": errors or {},
    }


@view_config(
    route_name="admin_erasure_person",
    request_method="GET",
    renderer="privacy/erasure.jinja2",
    permission="administer",
    assurance=CLERK,
)
def erasure_page(request):
    """What erasing this person's data removes, and what the law keeps and until when."""
    return _plan_page(request, _person(request))


@view_config(
    route_name="admin_erasure_person",
    request_method="POST",
    renderer="privacy/erasure.jinja2",
    permission="administer",
    assurance=CLERK,
)
def erase_person(request):
    person = _person(request)
    check_erasable(request.dbsession, person, request.user)
    if request.POST.get("confirm") != "yes":
        error = FieldError(
            "confirm", _("Confirm that you checked the request and the person's identity.")
        )
        refused = Refusal(INVALID, error.message, errors=[error])
        return _plan_page(request, person, form_refused(request, refused))
    removed = erase(request.dbsession, person, request.user)
    log.info(
        "erasure request processed for account %d: %s",
        person.id,
        ", ".join(f"{kind} {count}" for kind, count in sorted(removed.items())),
    )
    request.session.flash(
        request.localizer.translate(
            _("The person's data was erased; what the law keeps is listed with its date.")
        )
    )
    return HTTPSeeOther(request.route_url("admin_erasure_person", person=person.id))
