"""A portal started on a database whose schema is not at the migrations' head answers its pages
with a clear 503 (HTML for browsers, problem details for JSON clients) instead of failing in a
view, keeps answering its probes and static files, and serves pages once migrated."""

from __future__ import annotations

import logging

import pytest
import webtest
from sqlalchemy import create_engine, inspect

import portal
from tests.conftest import migrate

NOT_READY = "The portal is being prepared and cannot answer yet"


@pytest.fixture
def empty_database(tmp_path):
    return f"sqlite:///{tmp_path / 'empty.sqlite'}"


@pytest.fixture
def unmigrated_app(app_settings, empty_database):
    app = portal.main({}, **{**app_settings, "sqlalchemy.url": empty_database})
    return webtest.TestApp(
        app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )


def test_pages_answer_503_with_a_clear_message_until_migrated(
    unmigrated_app, empty_database, caplog
):
    caplog.set_level(logging.WARNING)
    # a returning browser's session cookie names a table that does not exist yet
    unmigrated_app.set_cookie("portal_session", "a" * 43)

    page = unmigrated_app.get("/saml/login", status=503)
    assert page.content_type == "text/html"
    assert NOT_READY in page.text
    assert page.headers["Retry-After"] == "30"
    assert page.headers["Cache-Control"] == "no-store"

    problem = unmigrated_app.get("/saml/login", headers={"Accept": "application/json"}, status=503)
    assert problem.content_type == "application/problem+json"
    assert problem.json["status"] == 503
    assert NOT_READY in problem.json["detail"]

    assert unmigrated_app.get("/readyz", status=503).json["database"] == "migrations not at head"
    unmigrated_app.get("/healthz", status=200)
    unmigrated_app.get("/static/portal.css", status=200)

    assert any("run alembic upgrade head" in r.getMessage() for r in caplog.records)
    engine = create_engine(empty_database)
    assert inspect(engine).get_table_names() == []  # refusing changed nothing
    engine.dispose()

    migrate(empty_database)
    unmigrated_app.get("/readyz", status=200)
    unmigrated_app.get("/saml/login", status=303)
