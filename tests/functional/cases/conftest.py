"""The work queue driven the way clerks and citizens use it: browsers signed in through the
development IdP, cases opened the way a feature opens them (in a committed transaction)."""

from __future__ import annotations

import re

import pytest
import webtest
from sqlalchemy import select

from portal.cases.models import Case
from portal.cases.work import open_case
from portal.clock import clock
from portal.identity.models import Department, User
from portal.tasks import task_dbsession
from tests.conftest import sign_in


@pytest.fixture
def browser(wsgi_app, devidp, departments):
    """A factory: ``browser("clerk-clara")`` is a new browser signed in as that persona."""

    def make(persona: str) -> webtest.TestApp:
        app = webtest.TestApp(
            wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        response = sign_in(app, devidp, persona)
        assert response.status_int == 303, response.text
        return app

    return make


@pytest.fixture
def make_case(wsgi_app):
    """A factory: a case opened as a feature opens it, committed; returns its public id."""

    def make(
        department: str | None = "revenue",
        kind: str = "payment_attention",
        person: str | None = None,
        organisation_of: str | None = None,
        subject_id: str = "pay_1",
        title: str = "Payment pay_1",
        note: str = "",
        opened_at=None,
    ) -> str:
        registry = wsgi_app.registry
        with task_dbsession(registry) as dbsession:
            department_id = (
                dbsession.scalar(select(Department.id).where(Department.code == department))
                if department
                else None
            )
            person_id = (
                dbsession.scalar(select(User.id).where(User.name_id == person)) if person else None
            )
            organisation_id = (
                dbsession.scalars(select(User).where(User.name_id == organisation_of))
                .one()
                .organisations[0]
                .id
                if organisation_of
                else None
            )
            case = open_case(
                dbsession,
                kind,
                subject_type="payment" if kind == "payment_attention" else kind,
                subject_id=subject_id,
                title=lambda locale: title,
                department_id=department_id,
                person_id=person_id,
                organisation_id=organisation_id,
                now=opened_at or clock(registry).now(),
                note=note,
            )
            return case.public_id

    return make


def the_case(dbsession, public_id: str) -> Case:
    dbsession.expire_all()
    return dbsession.scalars(select(Case).where(Case.public_id == public_id)).one()


def csrf_token(app) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', app.get("/account").text).group(1)


def post(app, url: str, fields: dict | None = None, status=303, with_token=True, **kwargs):
    """A POST as the portal's own pages send it (same origin, with the CSRF token)."""
    fields = dict(fields or {})
    if with_token:
        fields["csrf_token"] = csrf_token(app)
    return app.post(url, fields, headers={"Referer": "https://localhost/"}, status=status, **kwargs)
