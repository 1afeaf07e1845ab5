"""The benchmarks' floor commits the row it inserts, as the issue's floor does ("one INSERT"
through pyramid_tm + zope.sqlalchemy): zope.sqlalchemy rolls back a session it was not told
wrote, and until this test the floor's Core INSERT was rolled back on every request, a
cheaper floor than the one the portal is measured against."""

import sys

import webtest
from sqlalchemy import create_engine, func, select

from tests.bench.test_benchmarks_run import ROOT


def test_the_floor_commits_the_row_each_request_inserts(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import serve

    url = f"sqlite:///{tmp_path / 'floor.db'}"
    floor = webtest.TestApp(serve.baseline_app({"sqlalchemy.url": url}))
    for n in range(3):
        assert floor.post("/hit", f"hit {n}").json == {"ok": True}
    # a payment's share of statements, on the same stack: so many INSERTs, all committed
    assert floor.post("/hit/6", "six").json == {"ok": True}
    floor.post("/hit/100", "too many", status=404)
    floor.post("/hit/0", "none", status=404)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(serve.hit.c.payload).order_by(serve.hit.c.id))
            assert [payload for (payload,) in rows] == ["hit 0", "hit 1", "hit 2"] + ["six"] * 6
            assert connection.execute(select(func.count()).select_from(serve.hit)).scalar() == 9
    finally:
        engine.dispose()
        sys.modules.pop("serve", None)
