"""The production shape under test: production.ini's app servers (gunicorn, as pserve starts
them) and task workers as real processes on free ports, with the environment a deployer sets
(deploy/portal.env.example), one fresh PostgreSQL database and a Redis database of their own.

The Redis database is one of 2-11 that no other run holds: each run claims one with ``SET NX``
and empties it when done, so suites running side by side (several engineers, pytest-xdist)
neither share a queue nor a rate limit window. (Other tests use 0, 14 and 15; make
prod-local uses 1.)
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.devidp.idp import DevIdP
from tests.conftest import ROOT, migrate

REDIS = "redis://127.0.0.1:6379"
REDIS_DATABASES = range(2, 12)
CLAIM = "portal-tests:claimed-by"
#: what every request and every client of these tests sees as the portal's address
BASE_URL = "http://portal.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="package")
def redis_url() -> Iterator[str]:
    """A Redis database of this run's own, emptied afterwards."""
    owner = uuid.uuid4().hex
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS}")
    for number in REDIS_DATABASES:
        client = redis.Redis.from_url(f"{REDIS}/{number}")
        if client.dbsize() == 0 and client.set(CLAIM, owner, nx=True):
            break
    else:
        pytest.fail(f"no free Redis database among {list(REDIS_DATABASES)}")
    yield f"{REDIS}/{number}"
    client.flushdb()


@pytest.fixture(scope="package")
def database(tmp_path_factory) -> Iterator[str]:
    """A fresh PostgreSQL database next to TEST_DATABASE_URL's, migrated to head; dropped."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL): the processes share one database")
    server = make_url(url)
    name = f"{server.database}_shape_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    made = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(made)
        yield made
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="package")
def sp_metadata(tmp_path_factory) -> Path:
    """Where the IdP reads the portal's SP metadata (written once an app server answers)."""
    return tmp_path_factory.mktemp("sp") / "metadata.xml"


@pytest.fixture(scope="package")
def idp(sp_metadata, tmp_path_factory) -> DevIdP:
    """The development IdP, in this process: it answers the app servers' requests as its
    persona picker would (the app servers read its metadata at start-up)."""
    return DevIdP(tmp_path_factory.mktemp("idp"), "https://idp.example", str(sp_metadata))


def deployer_environment(
    *, database: str, base_url: str, queue_url: str, keys: Path, idp: DevIdP, **more: str
) -> dict[str, str]:
    """What a deployer writes into portal.env (deploy/portal.env.example names it), fresh
    secrets included, with the sandbox as the payment provider; PATH, HOME and LANG besides."""
    deployed = {
        "DATABASE_URL": database,
        "PORTAL_BASE_URL": base_url,
        "PORTAL_PII_HMAC_KEY": secrets.token_urlsafe(32),
        "PORTAL_PII_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PORTAL_QUEUE_URL": queue_url,
        "SAML_IDP_METADATA": str(idp.metadata_path),
        "SAML_SP_CERT": str(keys / "sp.crt"),
        "SAML_SP_KEY": str(keys / "sp.key"),
        "RECEIPTS_SIGNING_KEY": str(keys / "signing.key"),
        "RECEIPTS_SIGNING_CERT": str(keys / "signing.crt"),
        "BILLING_ALLOW_SANDBOX": "true",
        "BILLING_SANDBOX_BASE_URL": "https://sandbox.example",
        "BILLING_SANDBOX_MERCHANT_ID": "portal-staging",
        "BILLING_SANDBOX_API_KEY": secrets.token_urlsafe(16),
        "BILLING_SANDBOX_SIGNING_SECRET": secrets.token_urlsafe(16),
        **more,
    }
    plain = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**plain, **deployed}


@pytest.fixture(scope="package")
def environment(database, redis_url, keys_dir, idp) -> dict[str, str]:
    """Plain HTTP between these tests and the app servers: cookies without Secure, no HSTS."""
    return deployer_environment(
        database=database,
        base_url=BASE_URL,
        queue_url=redis_url,
        keys=keys_dir,
        idp=idp,
        PORTAL_SECURE_COOKIES="false",
        PORTAL_HSTS="false",
    )


@dataclass
class Process:
    """A command of deploy/Procfile, started in its own process group, its output in a file."""

    command: str
    environment: dict[str, str]
    log: Path
    popen: subprocess.Popen = field(init=False)

    def __post_init__(self):
        with self.log.open("w") as out:
            self.popen = subprocess.Popen(
                shlex.split(self.command),
                cwd=ROOT,
                env=self.environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self) -> None:
        """TERM, as systemd stops a unit; KILL if that takes longer than 20 s."""
        self.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def stop_all(processes: list[Process]) -> None:
    """All at once: gunicorn's master takes some 5 s to stop."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()


def wait_ready(url: str, process: Process, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"{process.command} exited:\n{process.output()[-3000:]}")
        try:
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url}/readyz did not answer 200 within {seconds} s:\n{process.output()[-3000:]}")


def procfile_commands(name: str = "Procfile") -> dict[str, str]:
    """deploy/Procfile (or another of deploy/'s Procfiles): process name -> command."""
    commands = {}
    for line in (ROOT / "deploy" / name).read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


@pytest.fixture(scope="package")
def app_servers(environment, sp_metadata, tmp_path_factory) -> Iterator[list[str]]:
    """deploy/Procfile's two app servers, each on a free port instead of its own."""
    logs = tmp_path_factory.mktemp("app-servers")
    servers, urls = [], []
    for name in ("web1", "web2"):
        port = free_port()
        command = re.sub(r"http_port=\d+", f"http_port={port}", procfile_commands()[name])
        servers.append(Process(command, environment, logs / name))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, server in zip(urls, servers, strict=True):
            wait_ready(url, server)
        sp_metadata.write_bytes(requests.get(f"{urls[0]}/saml/metadata", timeout=10).content)
        yield urls
    finally:
        stop_all(servers)
