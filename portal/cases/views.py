"""The person's side: their own cases and those of their organisations, each with a status in
plain words and the notes the clerks marked public, never the internal ones."""

from __future__ import annotations

from pyramid.view import view_config
from sqlalchemy import or_, select

from portal.cases import state
from portal.cases.kinds import case_kind
from portal.cases.models import Case, CaseNote

#: the most cases the page lists, newest first
LISTED = 200


@view_config(route_name="cases", renderer="cases/mine.jinja2", permission="account")
def my_cases(request):
    user = request.user
    concerns = [Case.person_id == user.id]
    if user.organisation_ids:
        concerns.append(Case.organisation_id.in_(user.organisation_ids))
    cases = list(
        request.dbsession.scalars(
            select(Case)
            .where(or_(*concerns))
            .order_by(Case.opened_at.desc(), Case.id.desc())
            .limit(LISTED)
        )
    )
    translate = request.localizer.translate
    return {
        "cases": cases,
        "kinds": {c.kind: translate(case_kind(request.registry, c.kind).label) for c in cases},
        "states": {code: translate(label) for code, label in state.PUBLIC_LABELS.items()},
    }


@view_config(
    route_name="case", request_method="GET", renderer="cases/followed.jinja2", permission="follow"
)
def followed_case(context, request):
    case = context.case
    translate = request.localizer.translate
    public_notes = list(
        request.dbsession.scalars(
            select(CaseNote)
            .where(CaseNote.case_id == case.id, CaseNote.public.is_(True))
            .order_by(CaseNote.at, CaseNote.id)
        )
    )
    return {
        "case": case,
        "kind_label": translate(case_kind(request.registry, case.kind).label),
        "status": translate(state.PUBLIC_LABELS[case.state]),
        "decision": (
            translate(state.OUTCOME_LABELS[case.outcome])
            if case.state == state.DECIDED and case.outcome in state.OUTCOME_LABELS
            else None
        ),
        "notes": public_notes,
    }
