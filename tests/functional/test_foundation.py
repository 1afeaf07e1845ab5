"""Probes, error pages, security headers, request ids, transactions and the task queue."""

import datetime as dt
import logging

import pytest
import webtest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

import portal
from portal.i18n import _
from portal.identity.models import Department, WebSession
from portal.refusals import INVALID, MALFORMED, FieldError, Refusal
from portal.security import PUBLIC
from portal.tasks import enqueue_after_commit, make_huey, task_queue
from tests.conftest import stay_active


def test_healthz_and_readyz(testapp):
    assert testapp.get("/healthz").json == {"status": "ok"}
    assert testapp.get("/readyz").json == {"status": "ok"}


def test_readyz_fails_when_migrations_are_not_at_head(testapp, engine):
    with engine.begin() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = 'behind'"))
    try:
        response = testapp.get("/readyz", status=503)
        assert response.json["database"] == "migrations not at head"
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})


@pytest.mark.parametrize("path", ["/", "/healthz", "/no-such-page", "/static/portal.css"])
def test_security_headers_on_every_response(testapp, path):
    response = testapp.get(path, expect_errors=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    if path.startswith("/static/"):
        assert response.headers["Cache-Control"].startswith("max-age=")
    else:
        assert response.headers["Cache-Control"] == "no-store"


def test_request_id_is_returned_and_logged_once(testapp, caplog):
    caplog.set_level(logging.INFO, logger="portal.access")
    response = testapp.get("/?email=someone%40example.org")
    request_id = response.headers["X-Request-ID"]
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.access"]
    assert len(lines) == 1
    assert "route=home status=200" in lines[0]
    assert "someone" not in lines[0]
    assert request_id not in response.text  # a page that worked needs no reference
    missing = testapp.get("/nowhere", status=404)
    assert missing.headers["X-Request-ID"] in missing.text  # the reference people can quote


def test_offered_request_id_is_kept_only_if_safe(testapp):
    good = testapp.get("/", headers={"X-Request-ID": "lb-0123456789abcdef"})
    assert good.headers["X-Request-ID"] == "lb-0123456789abcdef"
    bad = testapp.get("/", headers={"X-Request-ID": "<script>"})
    assert bad.headers["X-Request-ID"] != "<script>"


def test_not_found_page_in_layout_and_problem_json(testapp):
    page = testapp.get("/nowhere", status=404)
    assert "Page not found" in page.text and "usa-header" in page.text
    problem = testapp.get("/nowhere", headers={"Accept": "application/json"}, status=404)
    assert problem.content_type == "application/problem+json"
    assert problem.json["title"] == "Page not found"


@pytest.mark.parametrize(
    "path",
    [
        "/backoffice/departments/%00",
        "/receipts/x%00y.pdf",
        "/services?q=%00",
        "/services?q=%FF",
        "/backoffice/departments/%C0%AF",
        "/%FF%FE",
    ],
)
def test_nul_and_non_utf8_input_is_refused_before_any_view(testapp, path, caplog):
    """PostgreSQL cannot store a NUL and no one types one; bytes that are not UTF-8 are no text."""
    page = testapp.get(path, status=400)
    assert "usa-header" in page.text
    assert "400" in caplog.text
    # webtest cannot send the page's cookie (its CSRF token) to an address that is not UTF-8
    testapp.reset()
    problem = testapp.get(path, headers={"Accept": "application/json"}, status=400)
    assert problem.content_type == "application/problem+json"


def test_nul_in_a_form_is_refused_before_its_view(testapp):
    page = testapp.post(
        "/services", "q=a%00b", content_type="application/x-www-form-urlencoded", status=400
    )
    assert "character that is not allowed" in page.text
    api = testapp.post(
        "/api/v1/bills", b"number=%00", content_type="application/x-www-form-urlencoded", status=400
    )
    assert api.content_type == "application/problem+json"


def make_probe_app(settings: dict) -> webtest.TestApp:
    """The real app plus a few probe views that misbehave on purpose."""
    config = portal.configure(dict(settings))
    task_queue(config.registry).register(record_job)

    def write_then(outcome):
        def view(request):
            request.dbsession.add(Department(code="probe", name="Probe"))
            request.dbsession.flush()
            enqueue_after_commit(request, record_job, outcome)
            if outcome == "raise":
                raise RuntimeError("boom")
            if outcome == "break-session":
                # a flush that fails (a value no driver can bind) leaves the session unusable
                request.dbsession.add(Department(code=object(), name="Broken"))
                request.dbsession.flush()
            if outcome == "reject":
                raise Refusal(MALFORMED, _("That amount is not valid."))
            if outcome == "reject-fields":
                raise Refusal(
                    INVALID,
                    _("That amount is not valid."),
                    title=_("Check the amount"),
                    errors=[FieldError("#/amount", _("must be positive"))],
                    headers={"Retry-After": "0"},
                )
            return {"ok": True}

        return view

    for outcome in ("raise", "reject", "reject-fields", "commit", "break-session"):
        config.add_route(f"probe_{outcome}", f"/probe/{outcome}")
        config.add_view(
            write_then(outcome),
            route_name=f"probe_{outcome}",
            renderer="json",
            permission=PUBLIC,
            require_csrf=False,
        )
    app = webtest.TestApp(
        config.make_wsgi_app(), extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    app.queue = task_queue(config.registry)
    return app


@pytest.fixture
def probe_app(app_settings):
    return make_probe_app(app_settings)


def record_job(registry, value):
    return value


def departments_named_probe(dbsession):
    return dbsession.scalars(select(Department).where(Department.code == "probe")).all()


def test_server_error_page_changes_nothing(probe_app, dbsession, caplog):
    page = probe_app.get("/probe/raise", status=500)
    assert "Something went wrong" in page.text
    assert "boom" not in page.text
    assert departments_named_probe(dbsession) == []
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_server_error_page_renders_after_a_failed_flush(probe_app, testapp, signed_in, caplog):
    """The error page reads the signed-in person (the navigation) through the very session
    whose flush failed: it must start afresh rather than fail again."""
    signed_in("citizen-ana")
    probe_app.cookiejar = testapp.cookiejar
    page = probe_app.get("/probe/break-session", status=500)
    assert "Something went wrong" in page.text
    assert "Sign out" in page.text
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_server_error_page_renders_when_the_database_is_gone(
    probe_app, testapp, signed_in, caplog, monkeypatch
):
    """The database stops answering after the visitor was read (restarted, say): the error
    page, which would read the signed-in person again, is the portal's page all the same."""
    signed_in("citizen-ana")
    probe_app.cookiejar = testapp.cookiejar
    engine = probe_app.app.registry["db_engine"]
    identified = []

    def gone_once_identified(conn, cursor, statement, parameters, context, executemany):
        if identified:
            raise OperationalError(statement, parameters, ConnectionError("server closed"))
        identified.extend(["yes"] if "FROM web_session" in statement else [])

    event.listen(engine, "before_cursor_execute", gone_once_identified)
    try:
        page = probe_app.get("/probe/raise", status=500)
    finally:
        event.remove(engine, "before_cursor_execute", gone_once_identified)
    assert "Something went wrong" in page.text
    assert "Sign out" not in page.text
    assert any("did not answer" in r.getMessage() for r in caplog.records)


def test_server_error_page_renders_when_the_database_is_gone_before_the_visitor_is_read(
    probe_app, testapp, signed_in, caplog
):
    """PostgreSQL restarting: the first statement of a signed-in request fails, so even who is
    asking is unknown, and the error page would ask again."""
    signed_in("citizen-ana")
    probe_app.cookiejar = testapp.cookiejar
    probe_app.get("/probe/commit")  # the schema gate has seen the database at head
    engine = probe_app.app.registry["db_engine"]

    def gone(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, ConnectionError("server closed"))

    event.listen(engine, "before_cursor_execute", gone)
    try:
        page = probe_app.get("/probe/raise", status=500)
    finally:
        event.remove(engine, "before_cursor_execute", gone)
    assert "Something went wrong" in page.text
    assert "Sign out" not in page.text


def test_client_error_rolls_back_and_says_why(probe_app, dbsession):
    page = probe_app.get("/probe/reject", status=400)
    assert "That amount is not valid." in page.text
    problem = probe_app.get("/probe/reject", headers={"Accept": "application/json"}, status=400)
    assert problem.json["detail"] == "That amount is not valid."
    assert departments_named_probe(dbsession) == []


def test_a_refusal_is_one_page_or_problem_with_its_status_fields_and_log_line(
    probe_app, dbsession, caplog
):
    page = probe_app.get("/probe/reject-fields", status=422)
    assert "Check the amount" in page.text and "That amount is not valid." in page.text
    assert page.headers["Retry-After"] == "0"
    problem = probe_app.get(
        "/probe/reject-fields", headers={"Accept": "application/json"}, status=422
    )
    assert problem.content_type == "application/problem+json"
    assert problem.json == {
        "type": "about:blank",
        "title": "Check the amount",
        "status": 422,
        "detail": "That amount is not valid.",
        "errors": [{"pointer": "#/amount", "detail": "must be positive"}],
    }
    logged = [r.getMessage() for r in caplog.records if r.name == "portal.web"]
    assert "refused 422 invalid: That amount is not valid." in logged
    assert departments_named_probe(dbsession) == []


def test_jobs_are_enqueued_only_after_commit(app_settings, dbsession, tmp_path):
    probe_app = make_probe_app({**app_settings, "queue.url": f"sqlite:///{tmp_path / 'q.sqlite'}"})
    huey = probe_app.queue.huey
    probe_app.get("/probe/reject", status=400)
    probe_app.get("/probe/raise", status=500)
    assert huey.pending_count() == 0
    probe_app.get("/probe/commit", status=200)
    assert huey.pending_count() == 1
    assert len(departments_named_probe(dbsession)) == 1
    (job,) = huey.pending()
    assert huey.execute(job) == "commit"


QUARTER_PAST = dt.datetime(2026, 12, 3, 12, 15)


def test_each_app_holds_its_own_queue_with_the_portals_jobs(app_settings, wsgi_app, tmp_path):
    """Configuring another app (another broker) leaves the running app's queue as it was."""
    from portal.billing.tasks import send_refund_task

    other = portal.configure({**app_settings, "queue.url": f"sqlite:///{tmp_path / 'q.sqlite'}"})
    ours, theirs = task_queue(wsgi_app.registry), task_queue(other.registry)
    assert ours is not theirs and ours.huey.immediate and not theirs.huey.immediate
    assert ours.registry is wsgi_app.registry and theirs.registry is other.registry
    periodic = {"settle_or_expire_payments", "purge_identity_records", "render_pending_documents"}
    for queue in (ours, theirs):
        assert periodic <= {job.name for job in queue.huey.read_periodic(QUARTER_PAST)}
    theirs.enqueue(send_refund_task, 7)
    assert (theirs.huey.pending_count(), ours.huey.pending_count()) == (1, 0)


def test_queue_setting_names_a_broker():
    with pytest.raises(ValueError, match="queue.url"):
        make_huey("amqp://guest@localhost")


def test_idle_session_expires(signed_in, clock):
    """30 minutes idle (the tests' setting, as development's) end a session; less does not."""
    app = signed_in("citizen-ana")
    clock.advance(minutes=29)
    app.get("/account", status=200)
    clock.advance(minutes=31)
    app.get("/account", status=303)


def test_absolute_session_lifetime(signed_in, clock):
    """A session in use all along still ends 12 hours after sign-in."""
    app = signed_in("citizen-ana")
    stay_active(app, clock, minutes=11 * 60 + 50)
    app.get("/account", status=200)
    clock.advance(minutes=15)
    app.get("/account", status=303)


def test_session_table_holds_no_usable_token(signed_in, dbsession, testapp):
    signed_in("citizen-ana")
    token = testapp.cookies["portal_session"]
    ids = dbsession.scalars(select(WebSession.id)).all()
    assert token not in ids and len(ids) == 1


def test_urls_come_from_base_url_not_the_host_header(testapp):
    response = testapp.get(
        "/account",
        headers={"Host": "evil.example"},
        extra_environ={"HTTP_HOST": "evil.example", "wsgi.url_scheme": "http"},
        status=303,
    )
    assert response.location.startswith("https://localhost/saml/login")


def test_production_refuses_inline_jobs_and_the_sandbox(app_settings):
    from portal.settings import SettingsError

    production = dict(app_settings, **{"portal.environment": "production"})
    with pytest.raises(SettingsError, match="queue.url"):
        portal.configure(production)
    with pytest.raises(SettingsError, match="sandbox"):
        portal.configure(dict(production, **{"queue.url": "redis://127.0.0.1:6379/14"}))
