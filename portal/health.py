"""Probes for load balancers and for nginx's upstream: ``/healthz`` (the process answers; no
SQL, no broker, so a slow database never gets healthy processes restarted) and ``/readyz``
(the database answers with its schema at the migrations' head, and the task queue's broker
answers). Until the schema is at head, pages answer 503 too (:mod:`portal.schema_gate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pyramid.view import view_config
from sqlalchemy import text

from portal.security import PUBLIC
from portal.tasks import task_queue

log = logging.getLogger(__name__)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
OK = "ok"


def migration_heads() -> set[str]:
    return set(ScriptDirectory(str(ALEMBIC_DIR)).get_heads())


@view_config(route_name="healthz", renderer="json", permission=PUBLIC, require_csrf=False)
def healthz(request):
    return {"status": OK}


@view_config(route_name="readyz", renderer="json", permission=PUBLIC, require_csrf=False)
def readyz(request):
    """``{"status": "ok"}``, or 503 with each check's answer: a request served now would fail
    on what is not ``ok``. Both checks run, so the answer names everything that is down."""
    checks = {"database": database_state(request), "queue": queue_state(request)}
    if all(state == OK for state in checks.values()):
        return {"status": OK}
    request.response.status_int = 503
    return {"status": "unavailable", **checks}


def database_state(request) -> str:
    """Asks through the request's own session: on SQLite a second connection would wait for
    the write lock this request already holds once a signed-in visitor is loaded."""
    try:
        connection = request.dbsession.connection()
        connection.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception:
        log.exception("readiness: database unreachable")
        return "unreachable"
    if current != request.registry["migration_heads"]:
        return "migrations not at head"
    return OK


def queue_state(request) -> str:
    """The broker (Redis in production) takes the jobs requests enqueue after they commit:
    receipts, mail, payment follow-ups."""
    try:
        task_queue(request.registry).check()
    except Exception as error:
        log.warning("readiness: task queue unreachable (%s)", type(error).__name__)
        return "unreachable"
    return OK


def includeme(config) -> None:
    config.registry["migration_heads"] = migration_heads()
    config.include("portal.schema_gate")
    config.add_route("healthz", "/healthz")
    config.add_route("readyz", "/readyz")
