"""``bench/pay_flow.py`` counts PostgreSQL's CPU per operation beside the portal's: the
postmaster of the server the run uses is found from a backend of its own, and its tree's CPU
grows with the work the database does."""

import os

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.bench.test_benchmarks_run import ROOT

pytestmark = pytest.mark.postgresql


def test_the_database_cpu_is_the_postgresql_servers_and_grows_with_its_work(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import pay_flow

    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql")
    url = url.render_as_string(hide_password=False)
    database = pay_flow.Database(url)
    assert database.postmaster is not None
    before = database.cpu_seconds()
    with psycopg.connect(url) as connection:
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
        with open(f"/proc/{backend}/status") as status:
            assert f"PPid:\t{database.postmaster}\n" in status.read()  # the backends' parent
        # a few hundred milliseconds of the server's CPU (a clock tick is 10 ms), measured
        # while the backend is alive: once it exits its time moves to the postmaster's
        # reaped children's only when the postmaster has waited for it
        connection.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
        assert database.cpu_seconds() - before >= 0.05
