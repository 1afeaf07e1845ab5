"""deploy/supervise.py, which runs make prod-local's processes: a process that exits comes
back (as systemd's Restart=always brings it back), the others run on; SIGTERM stops every
process and what it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.sandbox.conftest import wait_until


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_process_that_dies_is_restarted_and_sigterm_stops_them_all(tmp_path):
    procfile = tmp_path / "Procfile"
    # each process writes its pid and starts a child of its own, as gunicorn starts workers
    procfile.write_text(
        f"one: echo $$ >> {tmp_path}/one; sleep 300 & echo $! >> {tmp_path}/children; wait\n"
        f'two: echo $$ >> {tmp_path}/two; echo "$GREETING" >> {tmp_path}/said; sleep 300\n'
    )
    environment_file = tmp_path / "env"
    environment_file.write_text('# the environment file\nGREETING="hello there"\n')
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "deploy.supervise", "-e", str(environment_file), str(procfile)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        (first,) = wait_until(lambda: pids_in(tmp_path / "one"), timeout=15)
        (two,) = wait_until(lambda: pids_in(tmp_path / "two"), timeout=15)
        assert (tmp_path / "said").read_text() == "hello there\n"

        os.kill(first, signal.SIGKILL)
        restarted = wait_until(lambda: pids_in(tmp_path / "one")[1:], timeout=15)
        assert restarted[0] != first
        assert pids_in(tmp_path / "two") == [two] and alive(two), "the other ran on"

        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    output = supervisor.stdout.read()
    assert "one exited (rc=-9)" in output or "one exited (rc=137)" in output
    started = pids_in(tmp_path / "one") + pids_in(tmp_path / "two")
    children = pids_in(tmp_path / "children")
    assert len(children) == 2
    assert not [pid for pid in started + children if alive(pid)], "nothing left running"
