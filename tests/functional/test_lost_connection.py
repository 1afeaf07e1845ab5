"""A pooled connection the database has dropped (a restart, an idle timeout somewhere between)
costs the next request nothing: production has no ``pool_pre_ping`` (a round trip on every
request), so the statement that finds the connection dead makes the request run again on a new
one (:func:`portal.db._retry_after_disconnect`)."""

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.postgresql


def drop_pooled_connections(wsgi_app, engine) -> int:
    """End, on the server, every connection idle in the app's pool; returns how many."""
    app_engine = wsgi_app.registry["db_engine"]
    held = [app_engine.connect() for _ in range(app_engine.pool.checkedin())]
    pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in held]
    for connection in held:
        connection.rollback()
        connection.close()
    with engine.connect() as admin:
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    return len(pids)


def test_a_request_on_a_dropped_connection_runs_again_on_a_new_one(signed_in, wsgi_app, engine):
    app = signed_in("citizen-ana")
    assert "pool_pre_ping" not in str(wsgi_app.registry.settings)
    app.get("/account", status=200)
    assert drop_pooled_connections(wsgi_app, engine) >= 1
    page = app.get("/account", status=200)
    assert "Ana" in page.text
    # and the request after it finds the pool healthy
    app.get("/account", status=200)
