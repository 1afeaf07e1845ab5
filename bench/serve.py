"""Serve one app for ``bench/pay_flow.py`` with waitress, configured from a generated ini file.

``serve.py INI portal`` serves the portal through its real configuration path
(``egg:portal`` → ``portal.main({}, **settings)``); ``serve.py INI baseline`` serves a minimal
Pyramid app on the same stack (pyramid_tm + zope.sqlalchemy, same engine settings, same
database server) doing one INSERT per request. Both use the ini's ``[server:main]``.
"""

from __future__ import annotations

import configparser
import json
import os
import sys

import waitress
from pyramid.config import Configurator
from pyramid.paster import get_app, get_appsettings, setup_logging
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func, insert

from portal.db import get_engine, get_session_factory, get_tm_session

metadata = MetaData()
hit = Table(
    "bench_hit",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", Text, nullable=False),
)


def baseline_app(settings: dict):
    """One INSERT per POST, committed by pyramid_tm exactly as the portal commits."""
    settings = dict(settings)
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config = Configurator(settings=settings)
    config.include("pyramid_tm")
    engine = get_engine(settings)
    metadata.create_all(engine)
    session_factory = get_session_factory(engine)
    config.add_request_method(
        lambda request: get_tm_session(session_factory, request.tm, request=request),
        "dbsession",
        reify=True,
    )

    def record(request):
        request.dbsession.execute(insert(hit).values(payload=request.body.decode()))
        return {"ok": True}

    config.add_route("hit", "/hit")
    config.add_view(
        record,
        route_name="hit",
        request_method="POST",
        renderer="json",
        permission=NO_PERMISSION_REQUIRED,
    )
    config.add_route("healthz", "/healthz")
    config.add_view(lambda request: {"status": "ok"}, route_name="healthz", renderer="json")
    return config.make_wsgi_app()


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


def profiled(app, out_file: str):
    """Profile every request (cProfile, merged across waitress threads); the stats are written
    to ``out_file`` when the server is stopped (SIGTERM)."""
    import cProfile
    import pstats
    import signal
    import threading

    lock = threading.Lock()
    merged: list[pstats.Stats] = []

    def wrapper(environ, start_response):
        profile = cProfile.Profile()
        try:
            return profile.runcall(lambda: list(app(environ, start_response)))
        finally:
            with lock:
                if merged:
                    merged[0].add(profile)
                else:
                    merged.append(pstats.Stats(profile))

    def dump(signum, frame):
        with lock:
            if merged:
                merged[0].dump_stats(out_file)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, dump)
    return wrapper


def server_options(ini: str) -> dict:
    parser = configparser.RawConfigParser()
    parser.read(ini)
    return {key: value for key, value in parser.items("server:main") if key != "use"}


def main(argv: list[str]) -> None:
    ini, which = argv[0], argv[1]
    setup_logging(ini)
    if which == "portal":
        app = get_app(ini, "main")
        if len(argv) == 4:
            trace_queries(app, argv[2], argv[3])
    else:
        app = baseline_app(get_appsettings(ini, "main"))
    if os.environ.get("BENCH_PROFILE"):
        app = profiled(app, f"{os.environ['BENCH_PROFILE']}.{which}")
    waitress.serve(app, **server_options(ini))


if __name__ == "__main__":
    main(sys.argv[1:])
