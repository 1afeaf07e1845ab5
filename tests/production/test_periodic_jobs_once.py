"""Periodic jobs run once per due minute however many task workers run: every Huey consumer
has a scheduler that enqueues the jobs due this minute, and on Redis each first claims the
job's minute (portal/tasks.py, ClaimingHuey)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import Counter

import pytest
from huey import RedisHuey, crontab
from huey.consumer import Scheduler
from pyramid.registry import Registry

from portal.tasks import TaskQueue
from tests.production.conftest import Process, procfile_commands, stop_all

DUE_LINE = re.compile(
    r"periodic jobs due at (\S+): (\d+), enqueued by this worker: (\d+)", re.MULTILINE
)
RUN_LINE = re.compile(r"periodic job (\S+) runs", re.MULTILINE)


def every_minute(registry):
    """A periodic job of the test's (the queue calls it with its registry)."""


def every_quarter_hour(registry):
    """Another, due less often."""


def queue_with_jobs(url: str) -> TaskQueue:
    queue = TaskQueue(Registry("periodic-test"), url)
    queue.register(every_minute, crontab(minute="*"))
    queue.register(every_quarter_hour, crontab(minute="*/15"))
    return queue


QUARTER_PAST, SIXTEEN_PAST = dt.datetime(2026, 12, 4, 12, 15), dt.datetime(2026, 12, 4, 12, 16)


@pytest.mark.parametrize(("minute", "due"), [(QUARTER_PAST, 2), (SIXTEEN_PAST, 1)])
def test_two_schedulers_looking_in_the_same_minute_enqueue_each_due_job_once(
    redis_url, minute, due
):
    """Huey's own scheduler code, two consumers' worth, on one Redis."""
    first, second = queue_with_jobs(redis_url), queue_with_jobs(redis_url)
    first.huey.flush()
    for queue in (first, second):
        Scheduler(queue.huey, threading.Event(), 1, True).enqueue_periodic_tasks(minute)
    assert first.huey.pending_count() == due

    # an hour later is a new run of the same jobs
    later = minute + dt.timedelta(hours=1)
    for queue in (first, second):
        Scheduler(queue.huey, threading.Event(), 1, True).enqueue_periodic_tasks(later)
    assert first.huey.pending_count() == 2 * due
    first.huey.flush()


def test_without_the_claim_each_scheduler_enqueues_the_due_jobs(redis_url):
    """Why the claim: Huey's own Redis queue, two consumers' schedulers, every job twice."""
    queues = []
    for _ in range(2):
        huey = RedisHuey("portal-unclaimed", url=redis_url)
        huey.periodic_task(crontab(minute="*"))(every_minute)
        queues.append(huey)
    for huey in queues:
        Scheduler(huey, threading.Event(), 1, True).enqueue_periodic_tasks(dt.datetime(2026, 1, 1))
    assert queues[0].pending_count() == 2
    queues[0].flush()


def settled(workers: list[Process]) -> tuple[list[tuple[str, int, int]], Counter]:
    """Every scheduler look the workers logged (minute, due, enqueued here), and how often
    each periodic job ran."""
    looks = [
        (minute, int(due), int(enqueued))
        for worker in workers
        for minute, due, enqueued in DUE_LINE.findall(worker.output())
    ]
    runs = Counter(name for worker in workers for name in RUN_LINE.findall(worker.output()))
    return looks, runs


@pytest.mark.postgresql
def test_two_task_workers_run_each_periodic_job_once(environment, tmp_path):
    """deploy/Procfile's worker1 and worker2, started in the same minute: both schedulers
    look, each due job is enqueued by one of them and runs once."""
    if dt.datetime.now().second > 30:  # both must look within one minute (start-up: seconds)
        time.sleep(61 - dt.datetime.now().second)
    commands = procfile_commands()
    workers = [
        Process(commands[name], environment, tmp_path / f"{name}.log")
        for name in ("worker1", "worker2")
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            looks, runs = settled(workers)
            looked = {minute for minute, _, _ in looks}
            if len(looks) >= 2 and sum(runs.values()) == sum(e for _, _, e in looks):
                break
            for worker in workers:
                assert worker.popen.poll() is None, worker.output()[-3000:]
            time.sleep(0.5)
    finally:
        stop_all(workers)

    looks, runs = settled(workers)
    assert len(looks) >= 2, "both workers' schedulers looked for due jobs"
    for minute in looked:
        due = {d for m, d, _ in looks if m == minute}
        enqueued = sum(e for m, _, e in looks if m == minute)
        assert len(due) == 1 and enqueued == due.pop(), (minute, looks)
    assert runs, "periodic jobs ran"
    assert max(runs.values()) <= len(looked), runs
    assert sum(runs.values()) == sum(e for _, _, e in looks), (runs, looks)
