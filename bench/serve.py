"""Serve one app for the benchmarks with gunicorn, as ``pserve`` serves production.ini. ``serve.py
INI portal`` serves the portal through its real configuration path (``egg:portal`` →
``portal.main({}, **settings)``) and the ini's ``[server:main]`` exactly as ``pserve`` does: the
app is loaded here, in the gunicorn master, then ``gunicorn.app.pasterapp.serve`` forks the
workers (production.ini's ``use = egg:gunicorn#main``). ``serve.py INI floor`` serves the floor:
a bare Pyramid app on the same stack (pyramid_tm + zope.sqlalchemy + psycopg, same engine
settings, same database server) doing one INSERT per request (``POST /hit``), or 1 to 99 (``POST
/hit/<n>``). ``serve.py INI static DIR`` serves DIR as a Pyramid static view and ``/healthz``,
nothing else. All three use the ini's ``[server:main]`` (gunicorn's settings).
``BENCH_COUNT_SQL=<file>`` (counting passes only, never while timing): every SQL statement a
request carrying ``X-Bench-Count: <label>`` runs appends ``<label>`` as one line to <file>.
``BENCH_PROFILE=<prefix>``: cProfile of every request, written per worker on exit.
"""

from __future__ import annotations

import json
import os
import sys

import plaster
from pyramid.config import Configurator
from pyramid.paster import get_app, get_appsettings, setup_logging
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, Text, func, insert

from portal.db import get_engine, get_session_factory, get_tm_session, run_write

metadata = MetaData()
hit = Table(
    "bench_hit",
    metadata,
    # an INTEGER key on SQLite, where only that autoincrements (the floor's test runs there)
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", Text, nullable=False),
)


def baseline_app(settings: dict):
    """The floor: one INSERT per POST, committed by pyramid_tm exactly as the portal commits."""
    settings = dict(settings)
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config = Configurator(settings=settings)
    config.include("pyramid_tm")
    engine = get_engine(settings)
    metadata.create_all(engine)
    engine.dispose()  # no connection crosses the fork into the workers
    session_factory = get_session_factory(engine)
    config.add_request_method(
        lambda request: get_tm_session(session_factory, request.tm, request=request),
        "dbsession",
        reify=True,
    )

    def record(request):
        # through run_write, as the portal writes: zope.sqlalchemy commits only a session it
        # was told wrote, and rolls back a Core INSERT it was not told about
        count = int(request.matchdict.get("count", 1))
        for _ in range(count):
            run_write(request.dbsession, insert(hit).values(payload=request.body.decode()))
        return {"ok": True}

    config.add_route("hit", "/hit")
    # a payment's statements on the floor's stack: /hit/6, three times, is what 3 requests and
    # 18 statements cost before any of the portal's own work
    config.add_route("hits", r"/hit/{count:[1-9][0-9]?}")
    for route in ("hit", "hits"):
        config.add_view(
            record,
            route_name=route,
            request_method="POST",
            renderer="json",
            permission=NO_PERMISSION_REQUIRED,
        )
    config.add_route("healthz", "/healthz")
    config.add_view(lambda request: {"status": "ok"}, route_name="healthz", renderer="json")
    return config.make_wsgi_app()


def static_app(directory: str):
    """The same bytes as a stored receipt, from a Pyramid static view (no portal)."""
    config = Configurator()
    config.add_static_view("static", directory, cache_max_age=3600)
    config.add_route("healthz", "/healthz")
    config.add_view(lambda request: {"status": "ok"}, route_name="healthz", renderer="json")
    return config.make_wsgi_app()


def count_statements(app, out_file: str) -> None:
    """One line per SQL statement of a request labelled ``X-Bench-Count``."""
    from pyramid.threadlocal import get_current_request
    from sqlalchemy import event

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        request = get_current_request()
        label = request.headers.get("X-Bench-Count") if request is not None else None
        if label:
            with open(out_file, "a", encoding="utf-8") as out:
                out.write(label + "\n")

    event.listen(app.registry["db_engine"], "before_cursor_execute", before_cursor_execute)


def trace_queries(app, path: str, out_file: str) -> None:
    """Append the SQL of requests to ``path`` carrying ``X-Bench-Trace`` to ``out_file``
    (JSON lines), so the benchmark can EXPLAIN ANALYZE exactly what the page runs."""
    from pyramid.threadlocal import get_current_request
    from sqlalchemy import event

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        request = get_current_request()
        if request is None or request.path != path or "X-Bench-Trace" not in request.headers:
            return
        with open(out_file, "a", encoding="utf-8") as out:
            out.write(
                json.dumps(
                    {
                        "trace": request.headers["X-Bench-Trace"],
                        "sql": statement,
                        "params": parameters,
                    },
                    default=str,
                )
                + "\n"
            )

    event.listen(app.registry["db_engine"], "before_cursor_execute", before_cursor_execute)


def profiled(app, prefix: str):
    """Profile every request (cProfile); each worker writes ``<prefix>.<pid>`` at exit."""
    import atexit
    import cProfile

    profile = cProfile.Profile()

    def wrapper(environ, start_response):
        return profile.runcall(lambda: list(app(environ, start_response)))

    atexit.register(lambda: profile.dump_stats(f"{prefix}.{os.getpid()}"))
    return wrapper


def run(ini: str, app) -> None:
    """What ``pserve INI`` does with the loaded app: the server of ``[server:main]`` (gunicorn's
    paste runner, which forks the workers, for production.ini; waitress's, for a comparison
    with the server production used before) from the same loader, so ``get port = http_port``
    and the ``[DEFAULT]`` variables resolve as pserve resolves them."""
    plaster.get_loader(ini, protocols=["wsgi"]).get_wsgi_server("main")(app)


def main(argv: list[str]) -> None:
    ini, which = argv[0], argv[1]
    setup_logging(ini)
    if which == "portal":
        app = get_app(ini, "main")
        if len(argv) == 4:
            trace_queries(app, argv[2], argv[3])
        if os.environ.get("BENCH_COUNT_SQL"):
            count_statements(app, os.environ["BENCH_COUNT_SQL"])
    elif which == "static":
        app = static_app(argv[2])
    else:
        app = baseline_app(get_appsettings(ini, "main"))
    if os.environ.get("BENCH_PROFILE"):
        app = profiled(app, f"{os.environ['BENCH_PROFILE']}.{which}")
    run(ini, app)


if __name__ == "__main__":
    main(sys.argv[1:])
