"""``supervise.py [-e ENVFILE] PROCFILE...``: run every process of the Procfiles, restart any
that exits, stop them all on Ctrl-C or SIGTERM.

honcho (``make run``) stops every process when one exits: right for development, wrong for the
production shape, where an app server that crashes (or is killed, as the fault tests do) must
come back while the other serves, as systemd's ``Restart=always`` brings it back
(deploy/systemd/). Each command runs through ``sh -c`` (so ``$VARIABLES`` of the
environment file expand, as in honcho) in a process group of its own, whose whole group
(gunicorn's workers too) is signalled; its output is printed line by line with its name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: a process that ran at least this long before it exited is restarted at once
STEADY_SECONDS = 10
MAX_BACKOFF_SECONDS = 30
STOP_SECONDS = 35  # above gunicorn's graceful_timeout (30 s)


def read_procfile(path: Path) -> dict[str, str]:
    commands = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, colon, command = line.partition(":")
        if colon and name.strip() and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def read_environment_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (systemd's EnvironmentFile= format); comments and blanks skipped."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, equals, value = line.strip().partition("=")
        if equals and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    with _print_lock:
        print(f"{time.strftime('%H:%M:%S')} {name:<9} | {line}", flush=True)


@dataclass
class Supervised:
    name: str
    command: str
    environment: dict[str, str]
    cwd: Path
    popen: subprocess.Popen | None = None
    started: float = 0.0
    backoff: float = 1.0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", self.command],
            cwd=self.cwd,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        self.started = time.monotonic()
        self.restart_at = None
        say("system", f"{self.name} started (pid={self.popen.pid})")
        threading.Thread(target=self._relay, args=(self.popen,), daemon=True).start()

    def _relay(self, popen: subprocess.Popen) -> None:
        for line in popen.stdout:
            say(self.name, line.rstrip("\n"))

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal_group(self, signum: int) -> None:
        """The whole group, even once its leader has gone: gunicorn's workers outlive a
        killed master for a moment, holding its port."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

    def schedule_restart(self, code: int) -> None:
        """Back at once after a steady run; after a crash at start-up, 1, 2, 4 ... 30 s later."""
        ran = time.monotonic() - self.started
        self.backoff = 1.0 if ran >= STEADY_SECONDS else min(self.backoff * 2, MAX_BACKOFF_SECONDS)
        delay = 0.0 if ran >= STEADY_SECONDS else self.backoff
        self.restart_at = time.monotonic() + delay
        self.restarts += 1
        self.signal_group(signal.SIGTERM)
        say("system", f"{self.name} exited (rc={code}) after {ran:.0f} s; restart in {delay:.0f} s")


class Supervisor:
    def __init__(self, processes: list[Supervised]):
        self.processes = processes
        self.stopping = False

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        for process in self.processes:
            process.start()
        while not self.stopping:
            for process in self.processes:
                code = process.exited()
                if code is not None and process.restart_at is None:
                    process.schedule_restart(code)
                if process.restart_at is not None and time.monotonic() >= process.restart_at:
                    process.start()
            time.sleep(0.2)
        return self.stop_all()

    def stop_all(self) -> int:
        say("system", "stopping every process")
        for process in self.processes:
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and any(
            p.exited() is None for p in self.processes if p.popen
        ):
            time.sleep(0.2)
        for process in self.processes:
            if process.exited() is None:
                say("system", f"{process.name} did not stop in {STOP_SECONDS} s: SIGKILL")
            process.signal_group(signal.SIGKILL)
        for process in self.processes:
            if process.popen is not None:
                process.popen.wait()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("procfiles", nargs="+", type=Path)
    parser.add_argument("-e", "--env", type=Path, help="environment file (KEY=value lines)")
    parser.add_argument("-d", "--directory", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    environment = dict(os.environ)
    if args.env:
        environment.update(read_environment_file(args.env))
    processes = [
        Supervised(name, command, environment, args.directory)
        for procfile in args.procfiles
        for name, command in read_procfile(procfile).items()
    ]
    return Supervisor(processes).run()


if __name__ == "__main__":
    sys.exit(main())
