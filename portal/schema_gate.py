"""Pages answer 503 until the database schema is at the migrations' head.

A portal started before ``alembic upgrade head`` (a first deployment, or new code ahead of its
migrations) would otherwise fail inside a view with a 500. Until the schema is at head every
page says plainly that the portal is not ready yet, as an HTML page or, for JSON clients, as
problem details; the probes and static files still answer. Once the schema is at head the
answer is kept: a running process's schema does not go back, so a ready portal asks no more.
"""

from __future__ import annotations

import logging
import threading

from alembic.runtime.migration import MigrationContext
from pyramid.events import NewRequest
from sqlalchemy.exc import SQLAlchemyError

from portal.i18n import _
from portal.refusals import UNAVAILABLE, Refusal

log = logging.getLogger(__name__)

#: answered whatever the schema: the probes say why they are not ready, the pages need CSS
OPEN_PATHS = ("/healthz", "/readyz")
OPEN_PREFIXES = ("/static/",)
RETRY_AFTER_SECONDS = 30
#: set in the WSGI environment of a request that is to be refused
NOT_READY = "portal.schema_not_ready"


class SchemaGate:
    """Whether the database's schema is at ``heads``, asked on a connection of its own."""

    def __init__(self, engine, heads: set[str]):
        self.engine = engine
        self.heads = heads
        self._ready = threading.Event()

    def ready(self) -> bool:
        if self._ready.is_set():
            return True
        try:
            with self.engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        except SQLAlchemyError:
            log.exception("schema check: database unreachable")
            return False
        if current != self.heads:
            log.warning(
                "database schema at %s, the migrations' head is %s: run alembic upgrade head",
                ", ".join(sorted(current)) or "nothing",
                ", ".join(sorted(self.heads)),
            )
            return False
        self._ready.set()
        return True


def schema_gate_tween_factory(handler, registry):
    """Sits above pyramid_tm, which reads the visitor's session (to note who made the
    transaction) before any view runs: the session lives in a table that may not exist yet, so
    until the schema is at head requests are passed on as from a visitor without cookies (the
    browser keeps them for when the portal is ready)."""
    gate = registry["schema_gate"]

    def tween(request):
        if not gate.ready():
            request.headers.pop("Cookie", None)
            path = request.path_info
            request.environ[NOT_READY] = not (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES))
        return handler(request)

    return tween


def refuse_until_migrated(event) -> None:
    """The refusal is raised inside the transaction, so it is rendered by the error views like
    any other (an HTML page, or problem details for JSON clients) and changes nothing."""
    request = event.request
    if request.environ.get(NOT_READY):
        raise Refusal(
            UNAVAILABLE,
            _(
                "The portal is being prepared and cannot answer yet. Nothing was changed. "
                "Please try again in a few minutes."
            ),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def includeme(config) -> None:
    registry = config.registry
    registry["schema_gate"] = SchemaGate(registry["db_engine"], registry["migration_heads"])
    config.add_tween(
        "portal.schema_gate.schema_gate_tween_factory", over="pyramid_tm.tm_tween_factory"
    )
    config.add_subscriber(refuse_until_migrated, NewRequest)
