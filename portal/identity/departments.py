"""A department as the context of a clerk page: its clerks (and administrators) may work it."""

from __future__ import annotations

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.identity.models import Department
from portal.requests import PortalRequest
from portal.security import ROLE_ADMIN, department_principal


class DepartmentContext:
    def __init__(self, department: Department):
        self.department = department

    @property
    def __acl__(self):
        return [
            (Allow, department_principal(self.department.id), "work"),
            (Allow, ROLE_ADMIN, "work"),
        ]


def department_factory(request: PortalRequest) -> DepartmentContext:
    code = request.matchdict["code"]
    department = request.dbsession.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise HTTPNotFound()
    return DepartmentContext(department)
