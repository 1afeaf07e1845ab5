"""The context of a case's pages: the clerks of its department (and administrators) may work
it; the person it concerns, or the representatives of the organisation, may follow it."""

from __future__ import annotations

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.cases.models import Case
from portal.security import (
    ROLE_ADMIN,
    department_principal,
    organisation_principal,
    user_principal,
)


class CaseContext:
    def __init__(self, case: Case):
        self.case = case

    @property
    def __acl__(self):
        acl = [(Allow, ROLE_ADMIN, "work")]
        if self.case.department_id is not None:
            acl.append((Allow, department_principal(self.case.department_id), "work"))
        if self.case.person_id is not None:
            acl.append((Allow, user_principal(self.case.person_id), "follow"))
        if self.case.organisation_id is not None:
            acl.append((Allow, organisation_principal(self.case.organisation_id), "follow"))
        return acl


def case_factory(request) -> CaseContext:
    public_id = request.matchdict["case"]
    if len(public_id) != 32:
        raise HTTPNotFound()
    case = request.dbsession.scalar(select(Case).where(Case.public_id == public_id))
    if case is None:
        raise HTTPNotFound()
    return CaseContext(case)
