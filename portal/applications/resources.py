"""The context of an application's pages: its applicant may see, change (while a draft), pay
and download; the clerks of the owning department (and administrators) may see and decide."""

from __future__ import annotations

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.applications.models import Application
from portal.security import ROLE_ADMIN, department_principal, user_principal


class ApplicationContext:
    def __init__(self, application: Application):
        self.application = application

    @property
    def __acl__(self):
        applicant = user_principal(self.application.applicant_id)
        department = department_principal(self.application.service.department_id)
        return [
            (Allow, applicant, "view"),
            (Allow, applicant, "edit"),
            (Allow, applicant, "pay"),
            (Allow, applicant, "download"),
            (Allow, department, "review"),
            (Allow, department, "decide"),
            (Allow, ROLE_ADMIN, "review"),
            (Allow, ROLE_ADMIN, "decide"),
        ]


def application_factory(request) -> ApplicationContext:
    public_id = request.matchdict["application"]
    if len(public_id) != 32:
        raise HTTPNotFound()
    application = request.dbsession.scalar(
        select(Application).where(Application.public_id == public_id)
    )
    if application is None:
        raise HTTPNotFound()
    return ApplicationContext(application)
