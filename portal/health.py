"""Probes for load balancers: ``/healthz`` (the process answers) and ``/readyz`` (the database
answers and its schema is at the migrations' head). Until it is, pages answer 503 too
(:mod:`portal.schema_gate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pyramid.view import view_config
from sqlalchemy import text

from portal.security import PUBLIC

log = logging.getLogger(__name__)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def migration_heads() -> set[str]:
    return set(ScriptDirectory(str(ALEMBIC_DIR)).get_heads())


@view_config(route_name="healthz", renderer="json", permission=PUBLIC, require_csrf=False)
def healthz(request):
    return {"status": "ok"}


@view_config(route_name="readyz", renderer="json", permission=PUBLIC, require_csrf=False)
def readyz(request):
    """Asks through the request's own session: on SQLite a second connection would wait for
    the write lock this request already holds once a signed-in visitor is loaded."""
    try:
        connection = request.dbsession.connection()
        connection.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception:
        log.exception("readiness: database unreachable")
        request.response.status_int = 503
        return {"status": "unavailable", "database": "unreachable"}
    if current != request.registry["migration_heads"]:
        request.response.status_int = 503
        return {"status": "unavailable", "database": "migrations not at head"}
    return {"status": "ok"}


def includeme(config) -> None:
    config.registry["migration_heads"] = migration_heads()
    config.include("portal.schema_gate")
    config.add_route("healthz", "/healthz")
    config.add_route("readyz", "/readyz")
