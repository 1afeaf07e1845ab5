"""bench/load.py's load on a running prod-local while parts of it fail (issue #14, "Faults").

Run ``make prod-local`` in one terminal, then ``.venv/bin/python bench/faults.py
[--faults web,worker,postgres,redis,sandbox] [--citizens 4]``. In turn, each while citizens are
paying (it waits for a payment created and not yet paid before it strikes):

- ``web``: kill -9 app server web1 (its whole process group: the gunicorn master and its
  workers); prod-local's supervisor (deploy/supervise.py, as systemd's Restart=always) starts
  it again; until then nginx sends its requests to web2.
- ``worker``: kill -9 task worker worker1 (its group), restarted by the supervisor the same way.
- ``postgres``: ``pg_ctlcluster --skip-systemctl-redirect <version> main restart``: the
  machine's cluster, so it breaks every connection on the machine, other people's too.
- ``redis``: Redis stopped for ``--redis-seconds`` (30) with SIGSTOP, then SIGCONT. Chosen over
  ``redis-cli shutdown nosave`` and a new redis-server because it is exactly restorable: the same
  process, arguments and memory, nothing lost of what others keep in this shared Redis (a
  shutdown without saving would drop it), and no guessing how the machine started it. To its
  clients it is a Redis that stops answering (timeouts), the harder case than a refused
  connection. It affects every user of the machine's Redis.
- ``sandbox``: the sandbox provider stopped (SIGSTOP) for ``--sandbox-seconds`` (60), then
  SIGCONT: its outbox then delivers the notifications it held, late, some twice (its
  duplicate_rate, 0.2 by default); payments whose notification is lost are settled by the
  portal's periodic job asking the provider.

Each phase prints the answers, errors and 5xx answers while it lasted and how long recovery
took. Users may get an error page during an outage, never a stack trace: every 5xx body is
checked for a traceback. Afterwards the load stops, the periodic jobs get ``--settle`` seconds
to settle every payment, and bench/endstate.py's checks run; exit 1 if one fails or a 5xx
carried a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (the same load, its clients and its report)

FAULTS = ("web", "worker", "postgres", "redis", "sandbox")
#: load before the first fault and after the last one
LEAD_SECONDS = 15


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} faults: {line}", flush=True)


def wait_for(condition, seconds: float) -> float | None:
    """Seconds until ``condition()`` holds (checked twice a second), None if it did not."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        try:
            if condition():
                return time.monotonic() - began
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.5)
    return None


def ready(url: str) -> bool:
    return requests.get(f"{url}/readyz", timeout=2).status_code == 200


def kill_group(name: str) -> int:
    pid = load.supervised()[name]
    os.killpg(pid, signal.SIGKILL)  # the supervisor starts each process as a group leader
    say(f"kill -9 {name} (process group {pid})")
    return pid


def restarted(name: str, old_pid: int) -> bool:
    pid = load.supervised().get(name)
    return pid is not None and pid != old_pid


def fault_web(args) -> float | None:
    old = kill_group("web1")
    return wait_for(
        lambda: restarted("web1", old) and ready("http://127.0.0.1:6551"), args.recover_seconds
    )


def fault_worker(args) -> float | None:
    old = kill_group("worker1")

    def two_workers_again() -> bool:
        # named by pid order, so the new one may be "worker2" now: count them
        workers = [pid for name, pid in load.supervised().items() if name.startswith("worker")]
        return len(workers) == 2 and old not in workers

    back = wait_for(two_workers_again, args.recover_seconds)
    time.sleep(3)  # and still alive a moment later (it reached Redis and PostgreSQL)
    return back if back is not None and two_workers_again() else None


def fault_postgres(args) -> float | None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    say(f"restarting PostgreSQL {version}/main: every database on this machine")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True
    )
    return wait_for(lambda: ready(load.BASE_URL), args.recover_seconds)


def listening_pid(port: int) -> int:
    found = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(found.split("pid=", 1)[1].split(",", 1)[0])


def stopped_for(pid: int, seconds: float, what: str) -> None:
    os.kill(pid, signal.SIGSTOP)
    say(f"{what} (pid {pid}) stopped for {seconds:.0f} s")
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
        say(f"{what} continues")


def fault_redis(args, environment) -> float | None:
    port = urlsplit(environment["PORTAL_QUEUE_URL"]).port or 6379
    stopped_for(listening_pid(port), args.redis_seconds, "Redis")
    return wait_for(lambda: ready(load.BASE_URL), args.recover_seconds)


def fault_sandbox(args) -> float | None:
    pid = load.supervised()["sandbox"]
    os.killpg(pid, signal.SIGSTOP)
    say(f"sandbox provider (group {pid}) stopped for {args.sandbox_seconds:.0f} s")
    try:
        time.sleep(args.sandbox_seconds)
    finally:
        os.killpg(pid, signal.SIGCONT)
        say("sandbox provider continues: its held notifications now arrive late, some twice")
    return 0.0


def schedule(args, stats: load.Stats, environment: dict[str, str]):
    """The faults in turn, each while a payment is under way, with load between them."""
    strike = {
        "web": lambda: fault_web(args),
        "worker": lambda: fault_worker(args),
        "postgres": lambda: fault_postgres(args),
        "redis": lambda: fault_redis(args, environment),
        "sandbox": lambda: fault_sandbox(args),
    }
    phases: list[str] = []

    def run() -> None:
        time.sleep(LEAD_SECONDS)
        for name in args.faults:
            stats.payment_in_flight.clear()
            stats.payment_in_flight.wait(30)
            before = stats.totals()
            began = time.monotonic()
            recovered = strike[name]()
            time.sleep(args.between)
            after = stats.totals()
            answers, errors, server_errors = (a - b for a, b in zip(after, before, strict=True))
            phases.append(
                f"{name:<9} {time.monotonic() - began:5.0f} s: {answers} answers, {errors} errors,"
                f" {server_errors} 5xx; "
                + ("NOT recovered" if recovered is None else f"recovered in {recovered:.0f} s")
            )
            say(phases[-1])
        time.sleep(LEAD_SECONDS)

    return run, phases


def main(argv: list[str] | None = None) -> int:
    parser = load.options(__doc__.splitlines()[0])
    parser.add_argument(
        "--faults",
        type=lambda value: [f for f in value.split(",") if f],
        default=list(FAULTS),
        help=f"which, in this order (default {','.join(FAULTS)})",
    )
    parser.add_argument("--redis-seconds", type=float, default=30)
    parser.add_argument("--sandbox-seconds", type=float, default=60)
    parser.add_argument("--between", type=float, default=10, help="load after each fault")
    parser.add_argument("--recover-seconds", type=float, default=90)
    args = parser.parse_args(argv)
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; choose from {','.join(FAULTS)}")
    if {"postgres", "redis"} & set(args.faults):
        say("WARNING: the postgres and redis faults hit the machine's PostgreSQL and Redis,")
        say("everything on this machine that uses them, not only prod-local; 5 s to Ctrl-C")
        time.sleep(5)
    setup = load.prepare(args)
    stats = load.Stats()
    cpu_meter = load.PortalCPU()
    run, phases = schedule(args, stats, setup.environment)
    say(f"load with {args.citizens} citizens; faults in turn: {', '.join(args.faults)}")
    load.drive(setup, 0, stats, args.bills, during=run)
    ok = load.finish(stats, setup, cpu_meter, args.settle)
    print("faults:\n  " + "\n  ".join(phases))
    return 0 if ok and all("NOT" not in phase for phase in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
