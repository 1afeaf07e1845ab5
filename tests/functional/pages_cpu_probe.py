"""CPU per request of the pages issue #13 measures, in-process (client included): ``/healthz``
without and with a session, a stored receipt (200, and 304 for a browser holding it) and
"My bills" with 20 and with 0 bills. Not a test (the suite does not collect it); run it:

    .venv/bin/python -m pytest tests/functional/pages_cpu_probe.py -q -s -p no:cacheprovider

Environment: PERF_N requests per round (200), PERF_ROUNDS (5; the minimum is printed first),
PERF_SQL=1 lists each page's statements, PERF_PROFILE=/bills (or ``receipt``, ``receipt304``)
prints a CPU-time profile sorted by PERF_SORT (cumulative), of the functions whose path matches
the regular expression PERF_FILTER (all) if given.
"""

import cProfile
import os
import pstats
import time

import webtest
from sqlalchemy import event, select

from portal.receipts.models import Receipt
from tests import factories
from tests.functional.billing import conftest as billing
from tests.functional.receipts import test_receipts

payer, ana, ana_bills, paid = billing.payer, billing.ana, billing.ana_bills, test_receipts.paid

N = int(os.environ.get("PERF_N", "200"))
ROUNDS = int(os.environ.get("PERF_ROUNDS", "5"))


def cpu_ms(app, url, **kwargs) -> float:
    app.get(url, **kwargs)
    start = time.process_time()
    for _ in range(N):
        app.get(url, **kwargs)
    return (time.process_time() - start) / N * 1000


def statements(wsgi_app, app, url, **kwargs) -> list[str]:
    engine = wsgi_app.registry["dbsession_factory"].kw["bind"]
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", record)
    try:
        app.get(url, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def report(label: str, app, url, sql=None, **kwargs) -> None:
    runs = [cpu_ms(app, url, **kwargs) for _ in range(ROUNDS)]
    counted = "" if sql is None else f" sql {len(sql)}"
    print(
        f"{label:13s} cpu ms/request min {min(runs):.2f} all {[round(r, 2) for r in runs]}{counted}"
    )
    for statement in sql if os.environ.get("PERF_SQL") and sql else []:
        print("    ", statement)


def test_probe(paid, payer, ana, dbsession, wsgi_app):
    for day in range(20):
        factories.bill(dbsession, ana, amount=10_00 + day, description=f"Fee {day}")
    dbsession.commit()
    receipt = dbsession.scalars(select(Receipt)).one()
    app = payer.app
    url = f"/receipts/{receipt.number}.pdf"
    etag = app.get(url).headers["ETag"]
    assert len(app.get("/bills").html.select("input[name=bill]")) == 20
    print("\nreload_templates:", wsgi_app.registry.settings.get("pyramid.reload_templates"))
    environ = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    report("healthz bare", webtest.TestApp(wsgi_app, extra_environ=environ), "/healthz")
    pages = {
        "healthz": ("/healthz", {}),
        "receipt 200": (url, {}),
        "receipt 304": (url, {"headers": {"If-None-Match": etag}, "status": 304}),
        "bills (20)": ("/bills", {}),
        "bills (0)": ("/bills?status=cancelled", {}),
    }
    for label, (target, kwargs) in pages.items():
        report(label, app, target, statements(wsgi_app, app, target, **kwargs), **kwargs)
    target = os.environ.get("PERF_PROFILE")
    if target:
        name = {"receipt": "receipt 200", "receipt304": "receipt 304"}.get(target)
        target, kwargs = pages[name] if name else (target, {})
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(N):
            app.get(target, **kwargs)
        profile.disable()
        stats = pstats.Stats(profile).sort_stats(os.environ.get("PERF_SORT", "cumulative"))
        stats.print_stats(*filter(None, [os.environ.get("PERF_FILTER"), 45]))
