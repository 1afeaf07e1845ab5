"""Where a payment's CPU goes, in-process: the three requests of :func:`pay_through`
profiled in thread CPU time. Not a test (the suite does not collect it); run it:

    .venv/bin/python -m pytest tests/functional/billing/payment_profile_probe.py -q -s \
        -p no:cacheprovider

It prints, per request, the profiled CPU ms and the function calls: on a shared machine the
calls are the figure to compare between two versions (the CPU ms move with the load and the
profiler's own cost). The sandbox's requests, served by other threads while a request is
profiled, are counted with it.

Environment: PERF_N payments (30); PERF_ONLY profiles only the requests whose name contains
it; PERF_PACKAGES=1 sums own time per package; PERF_CALLEES / PERF_CALLERS (pstats
restrictions, ``|`` between them) print those functions' callees / callers; PERF_SORT
(tottime) and PERF_LINES (40; 0 for none) the profile itself, only of the functions whose
path matches the regular expression PERF_MATCH if given.
"""

import contextlib
import cProfile
import os
import pstats
import time

import pyramid.router

from tests import factories
from tests.functional.billing.conftest import ana, ana_bills, payer  # noqa: F401
from tests.functional.billing.test_payment_cost import pay_through, payer_of, queued  # noqa: F401

N = int(os.environ.get("PERF_N", "30"))


def test_profile_payment(payer, dbsession, sandbox, wsgi_app, queued, monkeypatch):  # noqa: F811
    bills = [factories.bill(dbsession, payer_of(dbsession), amount=10_00 + i) for i in range(N + 2)]
    dbsession.commit()
    # warm up: caches, the first of the receipt series and the clearing account
    for bill in bills[:2]:
        pay_through(payer, sandbox, [bill])
    only = os.environ.get("PERF_ONLY", "")
    current: list[str] = []
    cpu: dict[str, float] = {}
    calls: dict[str, int] = {}
    merged: list[pstats.Stats] = []
    original = pyramid.router.Router.__call__

    def profiled(self, environ, start_response):
        if not current:
            return original(self, environ, start_response)
        name = current[0]
        profile = cProfile.Profile(time.thread_time)
        started = time.thread_time()
        profile.enable()
        try:
            return original(self, environ, start_response)
        finally:
            profile.disable()
            cpu[name] = cpu.get(name, 0.0) + time.thread_time() - started
            stats = pstats.Stats(profile)
            calls[name] = calls.get(name, 0) + stats.total_calls
            if only in name:
                if merged:
                    merged[0].add(profile)
                else:
                    merged.append(stats)

    monkeypatch.setattr(pyramid.router.Router, "__call__", profiled)

    @contextlib.contextmanager
    def measure(name):
        current.append(name)
        try:
            yield
        finally:
            current.clear()

    for bill in bills[2:]:
        pay_through(payer, sandbox, [bill], measure)
    print()
    for name, seconds in cpu.items():
        print(f"{name:40s} {seconds / N * 1000:6.2f} ms (profiled) {calls[name] / N:7.0f} calls")
    total = sum(cpu.values()) / N * 1000
    print(f"{'payment':40s} {total:6.2f} ms (profiled) {sum(calls.values()) / N:7.0f} calls")
    if not merged:
        return
    stats = merged[0]
    if os.environ.get("PERF_PACKAGES"):
        packages = by_package(stats)
        own = sum(seconds for _package, seconds, _calls in packages)
        for package, seconds, count in packages[:30]:
            print(f"{package:50s} {seconds / own * 100:5.1f} % {count / N:8.0f} calls")
    if os.environ.get("PERF_CALLEES"):
        stats.sort_stats("cumulative").print_callees(*os.environ["PERF_CALLEES"].split(","))
    if os.environ.get("PERF_CALLERS"):
        stats.sort_stats("cumulative").print_callers(*os.environ["PERF_CALLERS"].split(","))
    lines = int(os.environ.get("PERF_LINES", "40"))
    if lines:
        stats.sort_stats(os.environ.get("PERF_SORT", "tottime")).print_stats(
            *([os.environ["PERF_MATCH"]] if os.environ.get("PERF_MATCH") else []), lines
        )


def by_package(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """Own CPU (tottime) and calls summed per installed package or portal module, the
    largest first."""
    sums: dict[str, list] = {}
    for (filename, _line, _name), (_primitive, count, own, _cumulative, _by) in stats.stats.items():
        if "site-packages/" in filename:
            key = "/".join(filename.split("site-packages/")[1].split("/")[:2])
        elif "/portal/" in filename:
            key = "portal/" + filename.split("/portal/")[1].split("/")[0]
        else:
            key = filename.rsplit("/", 1)[-1]
        entry = sums.setdefault(key, [0.0, 0])
        entry[0] += own
        entry[1] += count
    return sorted(((key, own, count) for key, (own, count) in sums.items()), key=lambda e: -e[1])
