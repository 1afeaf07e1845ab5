"""The receipt benchmark still runs against the code it measures: ``make bench`` is run by
hand, so a change to the pipeline's interfaces (the issuer's authority became per language)
broke ``bench/receipts.py``, and no test noticed until someone next ran it. Its render part is
run here once, one iteration, on the PostgreSQL of the run (the benchmark creates and drops a
database of its own there). ``bench/pay_flow.py`` is run by every performance change and takes
a minute even at its smallest, so it is left to them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgresql


def test_the_receipt_benchmark_renders_and_prints_its_ratio():
    url = make_url(os.environ["TEST_DATABASE_URL"])
    server = f"{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}"
    finished = subprocess.run(
        [sys.executable, "bench/receipts.py", "--render-only", "--iterations", "1"]
        + ["--warmup", "0", "--pg", server],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    ratio = re.search(
        r"RATIO full pipeline : bare page \(p50 CPU\) = ([\d.]+) : 1",
        finished.stdout,
    )
    assert ratio is not None, finished.stdout[-2000:]
    # a receipt is a bare page and more: a ratio below 1 would mean a stage went unmeasured
    assert float(ratio[1]) > 1
