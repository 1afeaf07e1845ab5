"""The audit log's search page, for auditors and administrators: read-only, personal data
masked. Here rather than in :mod:`portal.audit`, which sits below identity (whose users the
e-mail look-up reads).

The person filter is a person's number; one known by their e-mail address is looked up
through a POST that redirects to their number, so the address never goes into a URL.
"""

from __future__ import annotations

import datetime as dt

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, select

from portal.audit.search import AuditFilters, find_entries, masked_personal
from portal.dates import as_text, query_day, typed_parts
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import User
from portal.refusals import MALFORMED, NOT_FOUND, FieldError, Refusal
from portal.web import form_refused

ENTRIES_PER_PAGE = 50
#: the text filters and the longest each may be (as long as the columns they search)
TEXT_FILTERS = {"person": 9, "object_type": 40, "object_id": 64, "action": 64}
MAX_EMAIL = 320


def _day(request, name: str, typed: dict, errors: list) -> dt.date | None:
    parts = typed_parts(request.GET, name)
    typed[name] = as_text(parts) if parts is not None else request.GET.get(name, "")
    try:
        return query_day(request, name)
    except Refusal as refusal:
        errors.append(FieldError(name, refusal.message))
        return None


def _start_of(day: dt.date, zone) -> dt.datetime:
    """When ``day`` begins where the portal is (the days an auditor types are local days)."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def read_filters(request) -> tuple[AuditFilters, dict[str, str], list[FieldError]]:
    """The filters asked for, what was typed (to show again) and what could not be read."""
    typed = {name: request.GET.get(name, "").strip() for name in TEXT_FILTERS}
    errors = [
        FieldError(name, _("Search for at most ${limit} characters.", mapping={"limit": limit}))
        for name, limit in TEXT_FILTERS.items()
        if len(typed[name]) > limit
    ]
    person = typed["person"]
    if person and not (person.isascii() and person.isdigit()):
        errors.append(FieldError("person", _("Give the person's number, for example 42.")))
    first = _day(request, "from", typed, errors)
    last = _day(request, "to", typed, errors)
    if first and last and last < first:
        errors.append(FieldError("to", _("The last day comes before the first day.")))
    zone = request.clock.timezone
    filters = AuditFilters(
        person_id=int(person) if person and not errors else None,
        object_type=typed["object_type"],
        object_id=typed["object_id"],
        action=typed["action"],
        since=_start_of(first, zone) if first else None,
        before=_start_of(last + dt.timedelta(days=1), zone) if last else None,
    )
    return filters, typed, errors


def _older_than(request) -> int | None:
    text = request.GET.get("older_than", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@view_config(
    route_name="backoffice_audit",
    request_method="GET",
    renderer="backoffice/audit.jinja2",
    permission="audit",
    assurance=CLERK,
)
def audit_log(request):
    """The entries matching the filters, newest first; a filter that cannot be read is marked
    on the form (400) and nothing is listed rather than everything."""
    return _values(request)


def _values(request, email_refusal: Refusal | None = None, email: str = "") -> dict:
    filters, typed, errors = read_filters(request)
    older_than = _older_than(request)
    refused: dict = {}
    shown, more = [], False
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
        rows = find_entries(
            request.dbsession, filters, older_than=older_than, limit=ENTRIES_PER_PAGE + 1
        )
        shown, more = rows[:ENTRIES_PER_PAGE], len(rows) > ENTRIES_PER_PAGE
    if email_refusal is not None:
        refused["email"] = email_refusal.message
    query = {name: value for name, value in typed.items() if value}
    translate = request.localizer.translate
    return {
        "entries": [
            {"entry": entry, "personal": masked_personal(entry.personal)} for entry in shown
        ],
        "typed": typed,
        "email": email,
        "errors": {field: translate(message) for field, message in refused.items()},
        "newest_url": request.route_path("backoffice_audit", _query=query) if older_than else None,
        "older_url": (
            request.route_path("backoffice_audit", _query={**query, "older_than": shown[-1].seq})
            if more
            else None
        ),
    }


@view_config(
    route_name="backoffice_audit",
    request_method="POST",
    permission="audit",
    assurance=CLERK,
)
def find_person(request):
    """The entries by or about the person with the e-mail address typed (a redirect to their
    number), or the page again saying no one has it (404, nothing changed)."""
    email = request.POST.get("email", "").strip()[:MAX_EMAIL]
    person_id = (
        request.dbsession.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
        if email
        else None
    )
    if person_id is None:
        refusal = Refusal(NOT_FOUND, _("No one has this e-mail address."))
        form_refused(request, refusal)
        return render_to_response(
            "backoffice/audit.jinja2",
            _values(request, refusal, email),
            request=request,
            response=request.response,
        )
    return HTTPSeeOther(request.route_path("backoffice_audit", _query={"person": person_id}))
