"""``bench/pay_flow.py`` says which runs one worker served: gthread workers race to accept
each connection, and a run's few keep-alive connections sometimes all land on one of them,
so that run's rate is one core's (the static file's runs, in 2 of 3 of one benchmark). A run
in which a worker was recycled cannot be told: its share is NaN, not counted."""

import math

from tests.bench.test_benchmarks_run import ROOT


def test_the_busiest_workers_share_of_a_run(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import pay_flow

    # ticks per worker pid, before and after a run
    assert pay_flow.busiest_share({1: 100, 2: 100}, {1: 150, 2: 150}) == 0.5
    assert pay_flow.busiest_share({1: 100, 2: 100}, {1: 195, 2: 105}) == 0.95
    # a worker forked during the run (one recycled) counts from nothing
    assert pay_flow.busiest_share({1: 100}, {1: 130, 3: 10}) == 0.75
    assert math.isnan(pay_flow.busiest_share({1: 100}, {1: 100}))
    # a worker that exited during the run took its ticks with it: cannot be told
    assert math.isnan(pay_flow.busiest_share({1: 100, 2: 100}, {1: 195, 3: 5}))
    assert pay_flow.busiest_share({1: 100, 2: 100}, {1: 195, 2: 105}) >= pay_flow.ONE_WORKER
