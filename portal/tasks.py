"""Background work through Huey.

Why Huey: it is small, well kept, declares periodic jobs in code, and its broker is a
pluggable storage: SQLite for ``make run`` (nothing else to start) and Redis in production.
The broker is the ``queue.url`` setting (``sqlite:///var/queue.db`` or ``redis://host:6379/0``;
``immediate`` runs tasks inline, for tests).

Each application holds its own queue in its registry (:func:`task_queue`). Jobs are declared
with :func:`task` and :func:`periodic_task`, Huey's decorators in spirit; ``config.scan()``
registers them with the queue of the application being configured, and a job is called with
that application's registry first, so it finds the application's services (through their
typed accessors) without any module-global state.

Jobs are only ever enqueued after the request's transaction commits
(:func:`enqueue_after_commit`), so a rolled-back request leaves no job behind. A task gets its
own database transaction through :func:`task_dbsession`.

Production runs several workers (deploy/), and every Huey consumer has a scheduler that
enqueues the periodic jobs due this minute: left alone, each job would run once per worker.
With Redis each scheduler first claims the job's minute (:class:`ClaimingHuey`), so it is
enqueued once whichever workers are up; no worker is special, so none has to be kept alive
for the periodic jobs to go on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import transaction
import venusian
from huey import Huey
from huey.api import TaskWrapper
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from pyramid.registry import Registry
from redis import ConnectionPool
from sqlalchemy.orm import Session

from portal.db import get_tm_session, registry_of
from portal.settings import SettingsError, is_production

log = logging.getLogger(__name__)

_QUEUE = "tasks.queue"
#: the category ``config.scan()`` looks for (Pyramid's own, like ``view_config``)
_CATEGORY = "pyramid"


class QueueSettingError(ValueError):
    pass


#: how long a claim on a periodic job's minute is kept: far longer than the minute in which
#: the other workers' schedulers look (each looks once a minute), plus any clock difference
CLAIM_SECONDS = 3600


class ClaimingHuey(Huey):
    """A Huey on Redis whose periodic jobs are enqueued once per due minute, however many
    consumers (each with its scheduler) share the broker.

    Before enqueueing a due job, a scheduler claims ``(job, minute)`` with one atomic
    ``SET NX``; the schedulers of the other workers, looking in the same minute, find it taken.
    A claim per run rather than one scheduling worker: workers come and go (deploys, crashes,
    ``max_requests``-style restarts), and whichever are up keep the periodic jobs going.
    """

    def read_periodic(self, timestamp):
        timestamp = timestamp or self._get_timestamp()
        due = super().read_periodic(timestamp)
        claimed = [task for task in due if self._claim(task, timestamp)]
        log.info(
            "periodic jobs due at %s: %d, enqueued by this worker: %d",
            f"{timestamp:%Y-%m-%dT%H:%M}",
            len(due),
            len(claimed),
        )
        return claimed

    def _claim(self, task, timestamp) -> bool:
        # module and name, as Huey's registry tells tasks apart
        job = f"{type(task).__module__}.{task.name}"
        key = f"{self.name}.periodic.{job}.{timestamp:%Y-%m-%dT%H:%M}"
        return bool(self.storage.conn.set(key, b"1", nx=True, ex=CLAIM_SECONDS))


def make_huey(url: str) -> Huey:
    """A Huey whose broker is named by ``url``.

    The SQLite broker serves ``make run``'s one worker and makes no claims; Redis is the
    broker of several workers. Its client gives up on a broker that does not answer (a
    request enqueueing a job, ``/readyz``) instead of waiting forever; the consumer's own
    blocking read waits 1 s, well within the timeout.
    """
    if url == "immediate":
        return Huey("portal", storage_class=MemoryStorage, immediate=True)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return Huey("portal", storage_class=SqliteStorage, filename=str(path))
    if url.startswith(("redis://", "rediss://", "unix://")):
        pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return ClaimingHuey("portal", storage_class=RedisStorage, connection_pool=pool)
    raise QueueSettingError(f"queue.url must be immediate, sqlite:///PATH or redis://...: {url!r}")


class TaskQueue:
    """One application's Huey, with the portal's jobs registered to run in that application."""

    def __init__(self, registry: Registry, url: str):
        self.registry = registry
        self.huey = make_huey(url)
        self._tasks: dict[Callable, TaskWrapper] = {}

    def register(self, job: Callable, validate_datetime=None, **options) -> None:
        """Make ``job(registry, ...)`` a task of this queue (periodic if ``validate_datetime``)."""

        @functools.wraps(job)
        def run(*args, **kwargs):
            return job(self.registry, *args, **kwargs)

        if validate_datetime is None:
            self._tasks[job] = self.huey.task(**options)(run)
            return

        @functools.wraps(job)
        def run_periodic():
            log.info("periodic job %s.%s runs", job.__module__, job.__qualname__)
            return run()

        self._tasks[job] = self.huey.periodic_task(validate_datetime, **options)(run_periodic)

    def enqueue(self, job: Callable, *args, **kwargs) -> None:
        """Hand ``job`` to the broker (in ``immediate`` mode: run it now)."""
        self._tasks[job](*args, **kwargs)

    def check(self) -> None:
        """Ask the broker something (how many jobs wait); raises if it cannot answer."""
        self.huey.storage.queue_size()


def task_queue(registry: Registry) -> TaskQueue:
    """The application's task queue."""
    return registry[_QUEUE]


def _declare(validate_datetime, options: dict):
    def decorate(job: Callable) -> Callable:
        def register(scanner, name, ob) -> None:
            task_queue(scanner.config.registry).register(job, validate_datetime, **options)

        venusian.attach(job, register, category=_CATEGORY)
        return job

    return decorate


def task(**options):
    """Declare a job ``job(registry, *args)``; Huey's task ``options`` (retries...) apply."""
    return _declare(None, options)


def periodic_task(validate_datetime, **options):
    """Declare a job ``job(registry)`` run whenever ``validate_datetime`` (a crontab) says."""
    return _declare(validate_datetime, options)


def enqueue(registry: Registry, job: Callable, *args, **kwargs) -> None:
    """Enqueue ``job`` now: from a task, whose own transaction is over or needs no commit."""
    task_queue(registry).enqueue(job, *args, **kwargs)


@contextlib.contextmanager
def task_dbsession(registry: Registry) -> Iterator[Session]:
    """A database session in its own transaction, committed when the block ends."""
    manager = transaction.TransactionManager(explicit=True)
    with manager:
        yield get_tm_session(registry["dbsession_factory"], manager)


def enqueue_after_commit(request_or_dbsession, job: Callable, *args, **kwargs) -> None:
    """Enqueue ``job`` once the current transaction has committed, never before.

    Takes a request, or a database session (in code that runs both in requests and in tasks).
    """
    if isinstance(request_or_dbsession, Session):
        manager = request_or_dbsession.info["tm"]
        registry = registry_of(request_or_dbsession)
    else:
        manager, registry = request_or_dbsession.tm, request_or_dbsession.registry

    def hook(committed: bool) -> None:
        if committed:
            task_queue(registry).enqueue(job, *args, **kwargs)

    manager.get().addAfterCommitHook(hook)


def includeme(config) -> None:
    settings = config.get_settings()
    url = settings.get("queue.url", "immediate")
    if url == "immediate" and is_production(settings):
        raise SettingsError(
            "queue.url (PORTAL_QUEUE_URL) must name a broker in production: "
            "'immediate' runs jobs inside web requests, without retries"
        )
    config.registry[_QUEUE] = TaskQueue(config.registry, url)
