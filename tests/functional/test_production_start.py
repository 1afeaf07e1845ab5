"""production.ini started as the README's "Configuration" section says, on a fresh PostgreSQL
database, with exactly the environment it documents: the web process starts before the schema
exists and says so (503 on /readyz and on pages), the documented migration command creates the
schema, and the portal is then ready."""

from __future__ import annotations

import configparser
import os
import shlex
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.devidp.idp import DevIdP
from portal.health import migration_heads
from portal.scripts.dev_keys import SIGNING_EXTENSIONS
from portal.selfsigned import ensure_self_signed
from tests.conftest import ROOT
from tests.functional.test_documentation import documented_variables, section
from tests.production.conftest import deployer_environment

#: the commands the README gives, run from the checkout
MIGRATE = ".venv/bin/alembic -c production.ini upgrade head"
WEB = ".venv/bin/pserve production.ini"
PORT = 6543  # production.ini's [server:main]
BASE = f"http://localhost:{PORT}"
NOT_READY = "The portal is being prepared and cannot answer yet"


@pytest.fixture
def fresh_database():
    """A new, empty database on the server the PostgreSQL tests use, dropped afterwards."""
    server = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"portal_production_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(drivername="postgresql", database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def deployment_environment(fresh_database, tmp_path) -> dict[str, str]:
    """What a deployer sets, named as the README names it, and nothing from this test run."""
    ensure_self_signed(tmp_path / "sp.key", tmp_path / "sp.crt", "Portal SP")
    ensure_self_signed(
        tmp_path / "signing.key",
        tmp_path / "signing.crt",
        "Portal receipts",
        extensions=SIGNING_EXTENSIONS,
    )
    idp = DevIdP(tmp_path / "idp", "https://idp.example", f"{BASE}/saml/metadata")
    deployed = deployer_environment(
        database=fresh_database.render_as_string(hide_password=False),
        base_url=BASE,
        queue_url="redis://127.0.0.1:6379/0",
        keys=tmp_path,
        idp=idp,
    )
    documented = documented_variables()
    portal_variables = set(deployed) - {"PATH", "HOME", "LANG"}
    assert portal_variables <= set(documented), "set only what the README documents"
    needed = {name for name, (_, mark) in documented.items() if mark in ("yes", "sandbox")}
    assert needed <= portal_variables, "set everything the README says is needed"
    return deployed


def production_workers() -> int:
    """``workers`` of production.ini's ``[server:main]`` (gunicorn)."""
    parser = configparser.RawConfigParser()
    parser.read(ROOT / "production.ini")
    assert parser.get("server:main", "use") == "egg:gunicorn#main"
    return parser.getint("server:main", "workers")


def worker_processes(pid: int, seconds: float = 30) -> int:
    """How many processes ``pid`` (pserve, the gunicorn master) has forked, once they are all
    up (the master forks them one after the other)."""
    wanted = production_workers()
    deadline = time.monotonic() + seconds
    while True:
        children = 0
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            except OSError:
                continue
            if stat and int(stat.rpartition(")")[2].split()[1]) == pid:
                children += 1
        if children >= wanted or time.monotonic() > deadline:
            return children
        time.sleep(0.2)


def port_is_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run(command: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        shlex.split(command), cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{WEB} exited with {process.returncode}:\n{process.stderr.read()}")
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds} s")


@pytest.fixture
def web_process(deployment_environment):
    if port_is_taken(PORT):
        pytest.fail(f"port {PORT} is taken (is `make run` running?): production.ini listens there")
    process = subprocess.Popen(
        shlex.split(WEB),
        cwd=ROOT,
        env=deployment_environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_documented_migration_runs_with_production_ini_pool_settings(tmp_path):
    """production.ini sizes the web process's connection pool; the migration command, which
    reads the same settings, must accept them (on any database)."""
    database = tmp_path / "portal.sqlite"
    environment = {"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{database}"}
    migrated = run(MIGRATE, environment)
    assert migrated.returncode == 0, migrated.stderr
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert {current} == migration_heads()


@pytest.mark.postgresql
def test_production_ini_starts_as_documented_on_a_fresh_database(
    deployment_environment, web_process
):
    configuration = section("Configuration")
    assert MIGRATE in configuration and WEB in configuration
    assert wait_for(f"{BASE}/healthz", web_process).status_code == 200
    assert worker_processes(web_process.pid) == production_workers(), "gunicorn's workers"

    ready = requests.get(f"{BASE}/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["database"] == "migrations not at head"
    page = requests.get(f"{BASE}/saml/login", timeout=10, allow_redirects=False)
    assert page.status_code == 503
    assert page.headers["Content-Type"].startswith("text/html")
    assert NOT_READY in page.text
    problem = requests.get(
        f"{BASE}/saml/login",
        headers={"Accept": "application/json"},
        timeout=10,
        allow_redirects=False,
    )
    assert problem.status_code == 503
    assert problem.headers["Content-Type"] == "application/problem+json"
    assert NOT_READY in problem.json()["detail"]

    migrated = run(MIGRATE, deployment_environment)
    assert migrated.returncode == 0, migrated.stderr

    assert requests.get(f"{BASE}/readyz", timeout=10).json() == {"status": "ok"}
    sign_in = requests.get(f"{BASE}/saml/login", timeout=10, allow_redirects=False)
    assert sign_in.status_code == 303
    assert sign_in.headers["Location"].startswith("https://idp.example/")
