"""/readyz, the probe a load balancer (and an operator) asks: ready only when the database and
the task queue's broker both answer, and saying which does not; /healthz asks neither."""

from __future__ import annotations

import socket

import pytest
import redis
import webtest
from sqlalchemy import text

import portal
from tests.production.conftest import REDIS


def closed_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_with_queue(app_settings):
    def make(queue_url: str) -> webtest.TestApp:
        app = portal.main({}, **{**app_settings, "queue.url": queue_url})
        return webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"})

    return make


def test_ready_when_the_database_and_the_redis_queue_answer(app_with_queue, redis_url):
    assert app_with_queue(redis_url).get("/readyz", status=200).json == {"status": "ok"}


def test_not_ready_while_the_queue_does_not_answer(app_with_queue):
    """A request served now would take a payment whose receipt could not be queued."""
    app = app_with_queue(f"redis://127.0.0.1:{closed_port()}/0")
    answer = app.get("/readyz", status=503)
    assert answer.json == {"status": "unavailable", "database": "ok", "queue": "unreachable"}
    app.get("/healthz", status=200)


def test_not_ready_names_each_part_that_is_down(app_with_queue, engine):
    app = app_with_queue(f"redis://127.0.0.1:{closed_port()}/0")
    with engine.begin() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = 'behind'"))
    try:
        answer = app.get("/readyz", status=503)
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    assert answer.json == {
        "status": "unavailable",
        "database": "migrations not at head",
        "queue": "unreachable",
    }


def test_the_redis_queue_gives_up_on_a_broker_that_does_not_answer(app_with_queue):
    """A broker that accepts connections but never answers (stopped, not dead): /readyz says
    so within the client's timeout instead of hanging the probe."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = app_with_queue(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        answer = app.get("/readyz", status=503)
    assert answer.json["queue"] == "unreachable"
    assert redis.Redis.from_url(REDIS).ping()
