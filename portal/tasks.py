"""Background work through Huey.

Why Huey: it is small, well kept, declares periodic jobs in code, and its broker is a
pluggable storage: SQLite for ``make run`` (nothing else to start) and Redis in production.
The broker is the ``queue.url`` setting (``sqlite:///var/queue.db`` or ``redis://host:6379/0``;
``immediate`` runs tasks inline, for tests).

Jobs are only ever enqueued after the request's transaction commits
(:func:`enqueue_after_commit`), so a rolled-back request leaves no job behind. A task gets its
own database transaction through :func:`task_dbsession`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import transaction
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from portal.db import get_tm_session
from portal.settings import SettingsError, is_production

log = logging.getLogger(__name__)

huey = Huey("portal", storage_class=MemoryStorage, immediate=True)
_state: dict = {}


class QueueSettingError(ValueError):
    pass


def configure_queue(url: str) -> None:
    """Point the task queue at the broker named by ``url``."""
    if url == "immediate":
        huey.immediate = True
        return
    huey.immediate = False
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        huey.storage = SqliteStorage(name="portal", filename=str(path))
    elif url.startswith(("redis://", "rediss://", "unix://")):
        huey.storage = RedisStorage(name="portal", url=url)
    else:
        raise QueueSettingError(
            f"queue.url must be immediate, sqlite:///PATH or redis://...: {url!r}"
        )


@contextlib.contextmanager
def task_dbsession():
    """A database session in its own transaction, committed when the block ends."""
    manager = transaction.TransactionManager(explicit=True)
    with manager:
        yield get_tm_session(_state["registry"]["dbsession_factory"], manager)


def enqueue_after_commit(request_or_dbsession, task, *args, **kwargs) -> None:
    """Enqueue ``task`` once the current transaction has committed, never before.

    Takes a request, or a database session (in code that runs both in requests and in tasks).
    """
    manager = getattr(request_or_dbsession, "tm", None) or request_or_dbsession.info["tm"]

    def hook(committed: bool) -> None:
        if committed:
            task(*args, **kwargs)

    manager.get().addAfterCommitHook(hook)


def registry():
    """The running portal's registry (settings, payment provider...), for tasks."""
    return _state["registry"]


def settings() -> dict:
    """The running portal's settings, for tasks."""
    return registry().settings


def includeme(config) -> None:
    settings = config.get_settings()
    _state["registry"] = config.registry
    url = settings.get("queue.url", "immediate")
    if url == "immediate" and is_production(settings):
        raise SettingsError(
            "queue.url (PORTAL_QUEUE_URL) must name a broker in production: "
            "'immediate' runs jobs inside web requests, without retries"
        )
    configure_queue(url)
