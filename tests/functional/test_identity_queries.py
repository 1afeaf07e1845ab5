"""Who is asking costs one statement: the session row, its user and the user's memberships
(organisations, departments, buying departments) are read together, and the principals of
every permission check on the page come from that one read. A request without a session
cookie asks the database nothing about who it is."""

from __future__ import annotations

import functools

import pytest

from portal.identity.models import Department
from tests.sql import statements as recorded

#: the tables the identity part of a request reads (a page may read memberships itself, to
#: show the names of the organisations a person acts for)
IDENTITY_TABLES = ("web_session", "user_account")


@pytest.fixture
def statements(wsgi_app):
    """A context manager that records the SQL the application runs inside it."""
    return functools.partial(recorded, wsgi_app)


def identity_part(seen: list[str]) -> list[str]:
    return [sql for sql in seen if any(table in sql for table in IDENTITY_TABLES)]


def nav_links(page) -> set[str]:
    return {a["href"] for a in page.html.select("nav a[href]")}


def test_a_signed_in_page_costs_one_statement_and_writes_nothing(signed_in, statements):
    app = signed_in("citizen-ana")
    app.get("/account", status=200)
    with statements() as seen:
        page = app.get("/account", status=200)
    # the navigation alone checks a dozen permissions; the page shows the person's (no)
    # organisations and departments: all from the one statement
    assert len(seen) == 1, seen
    assert all(table in seen[0] for table in ("web_session", "user_account", "_membership"))
    assert "Ana" in page.text and "/bills" in nav_links(page)
    assert "/backoffice" not in nav_links(page)
    with statements() as seen:
        app.get("/", status=200)
    assert len(seen) == 1, seen


@pytest.mark.parametrize(
    ("persona", "allowed", "refused"),
    [
        ("rep-olga", "/bids", "/backoffice"),
        ("clerk-clara", "/backoffice", "/procurement/tenders"),
        ("admin-ada", "/backoffice", "/bids"),
        ("buyer-bruno", "/procurement/tenders", "/backoffice"),
        ("reviewer-rita", "/review/complaints", "/bids"),
    ],
)
def test_the_principals_come_from_the_same_statement(
    signed_in, statements, dbsession, persona, allowed, refused
):
    dbsession.add(Department(code="procurement", name="Public Procurement"))
    dbsession.commit()
    app = signed_in(persona)
    app.get("/", status=200)  # takes the sign-in's flash message: the session changes once
    with statements() as seen:
        page = app.get("/", status=200)
    assert len(seen) == 1, seen
    assert allowed in nav_links(page) and refused not in nav_links(page)
    with statements() as seen:
        app.get(allowed, status=200)
    assert len(identity_part(seen)) == 1, identity_part(seen)
    with statements() as seen:
        app.get(refused, status=403)
    assert len(identity_part(seen)) == 1, identity_part(seen)


def test_a_request_without_a_session_cookie_asks_nothing(testapp, statements):
    with statements() as seen:
        page = testapp.get("/", status=200)
        testapp.get("/account", status=303)
    assert seen == []
    assert "/account" not in nav_links(page)


def test_a_probe_asks_nothing_about_who_is_asking(signed_in, statements):
    app = signed_in("citizen-ana")
    with statements() as seen:
        app.get("/healthz", status=200)
    assert seen == []


def test_a_roles_change_shows_at_the_next_request(signed_in, statements, dbsession):
    """Memberships are read with every request, not kept in the session."""
    app = signed_in("clerk-clara")
    app.get("/backoffice", status=200)
    from sqlalchemy import delete

    from portal.identity.models import department_membership

    dbsession.execute(delete(department_membership))
    dbsession.commit()
    with statements() as seen:
        app.get("/backoffice", status=403)
    assert len(identity_part(seen)) == 1


def test_a_page_that_only_names_the_person_makes_no_orm_object_of_them(signed_in, wsgi_app):
    """The header, the navigation's permission checks and the language read the values the
    identity query returned; only a view that asks for ``request.user`` gets an ORM ``User``
    (made from those values, with no statement of its own)."""
    from sqlalchemy import event

    from portal.identity.models import User

    factory = wsgi_app.registry["dbsession_factory"]
    users: list[User] = []

    def record(session, instance):
        if isinstance(instance, User):
            users.append(instance)

    app = signed_in("citizen-ana")
    app.get("/", status=200)
    for name in ("after_attach", "loaded_as_persistent"):
        event.listen(factory, name, record)
    try:
        page = app.get("/", status=200)
        assert users == [] and "Ana" in page.text
        page = app.get("/account", status=200)
        assert [user.given_name for user in users] == ["Ana"] and "Ana" in page.text
    finally:
        for name in ("after_attach", "loaded_as_persistent"):
            event.remove(factory, name, record)


def test_the_identity_statement_is_rendered_once_not_per_request(engine):
    """Every signed-in request runs it, so its SQL text is SQLAlchemy's cached one: no value
    rendered into the text per execution (SQLAlchemy's ``aggregate_strings`` binds its
    separator so, which re-rendered the whole statement on every request, about a quarter of
    its CPU). The ids still come back comma-separated: see the principals' test above."""
    from portal.identity.sessions import IDENTITY_QUERY

    compiled = IDENTITY_QUERY.compile(dialect=engine.dialect)
    assert compiled.literal_execute_params == frozenset()
    assert compiled.post_compile_params == frozenset()
    assert compiled.string.count("',')") == 3
