"""``make prod-local``: the production shape on this machine, from the deployer's own files.

nginx on :8080 (deploy/nginx/portal.conf, run as this user from var/prod-local/nginx) in front
of two app servers and two task workers (deploy/Procfile, production.ini), on Redis and a fresh
PostgreSQL database, with the development IdP, the sandbox provider and an SMTP server that
keeps what it is sent standing in for the real ones (deploy/Procfile.local). The environment
is deploy/portal.env.example filled in (var/prod-local/portal.env). deploy/supervise.py runs the
processes, restarting any that exits as systemd would; Ctrl-C stops everything.

``DATABASE_URL`` set: that database is used (migrated, demo data added) instead of a fresh
``portal_prod_local`` on ``PROD_LOCAL_POSTGRES`` (postgresql://postgres@127.0.0.1:5432).
``PORTAL_QUEUE_URL`` set: that Redis instead of ``redis://127.0.0.1:6379/1`` (emptied when the
database is fresh).
"""

from __future__ import annotations

import configparser
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from deploy.supervise import read_environment_file
from portal.devidp.idp import DevIdP

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RUN = ROOT / "var" / "prod-local"
#: where deploy/nginx/portal.conf expects the checkout
INSTALLED_ROOT = "/srv/portal"
BASE_URL = "http://localhost:8080"
IDP_URL = "http://localhost:6544"
SANDBOX_URL = "http://localhost:6545"
MAIL_PORT = 2525
#: every port this starts something on: nginx, the app servers, the IdP, the sandbox, mail
PORTS = (8080, 6551, 6552, 6544, 6545, MAIL_PORT)


def dev_group_roles() -> str:
    """development.ini's roles for the dev IdP's groups, on one line as the environment takes
    them: the same personas are clerks, buyers and administrators here."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "development.ini", encoding="utf-8")
    lines = parser["app:main"]["saml.group_roles"].splitlines()
    return "; ".join(line.strip() for line in lines if line.strip())


DATABASE = "portal_prod_local"
LOCAL_QUEUE = "redis://127.0.0.1:6379/1"


def fail(message: str) -> None:
    sys.exit(f"make prod-local: {message}")


def check_ports_free() -> None:
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                fail(f"port {port} is in use (is make run or another prod-local running?)")


def database_url() -> str:
    """The caller's ``DATABASE_URL``, or a fresh ``portal_prod_local`` (dropped and made again)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    server = make_url(os.environ.get("PROD_LOCAL_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    server = server.set(drivername="postgresql+psycopg")
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    except Exception as error:
        fail(f"PostgreSQL at {server.render_as_string()} cannot make a database: {error}")
    finally:
        admin.dispose()
    print(f"fresh database {DATABASE}")
    return server.set(drivername="postgresql", database=DATABASE).render_as_string(
        hide_password=False
    )


def queue_url(fresh_database: bool) -> str:
    """The caller's ``PORTAL_QUEUE_URL``, or Redis's database 1, emptied when the portal's
    database is fresh: jobs left from an earlier run name rows that are gone."""
    url = os.environ.get("PORTAL_QUEUE_URL")
    try:
        if url:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
            return url
        url = LOCAL_QUEUE
        queue = redis.Redis.from_url(url, socket_connect_timeout=2)
        if fresh_database:
            queue.flushdb()
        queue.ping()
    except redis.RedisError as error:
        fail(f"Redis at {url} does not answer ({error}); start it (apt-get install redis-server)")
    return url


def local_values(previous: dict[str, str]) -> dict[str, str]:
    """What this machine's run sets, keeping the keys of a previous run (its database may be
    reused)."""
    fresh_database = not os.environ.get("DATABASE_URL")
    return {
        "DATABASE_URL": database_url(),
        "PORTAL_BASE_URL": BASE_URL,
        "PORTAL_PII_HMAC_KEY": previous.get("PORTAL_PII_HMAC_KEY") or secrets.token_urlsafe(32),
        "PORTAL_PII_ENCRYPTION_KEY": previous.get("PORTAL_PII_ENCRYPTION_KEY")
        or Fernet.generate_key().decode(),
        "PORTAL_QUEUE_URL": queue_url(fresh_database),
        "SAML_SP_CERT": str(ROOT / "var" / "saml" / "sp.crt"),
        "SAML_SP_KEY": str(ROOT / "var" / "saml" / "sp.key"),
        "RECEIPTS_SIGNING_KEY": str(ROOT / "var" / "receipts" / "signing.key"),
        "RECEIPTS_SIGNING_CERT": str(ROOT / "var" / "receipts" / "signing.crt"),
        "SAML_IDP_METADATA": str(RUN / "devidp" / "metadata.xml"),
        # the dev IdP's groups, as development.ini maps them
        "SAML_GROUP_ROLES": dev_group_roles(),
        "BILLING_PROVIDER": "portal.billing.providers.sandbox.SandboxProvider",
        "BILLING_ALLOW_SANDBOX": "true",
        "BILLING_SANDBOX_BASE_URL": SANDBOX_URL,
        "BILLING_SANDBOX_MERCHANT_ID": "portal-local",
        "BILLING_SANDBOX_API_KEY": previous.get("BILLING_SANDBOX_API_KEY")
        or secrets.token_urlsafe(16),
        "BILLING_SANDBOX_SIGNING_SECRET": previous.get("BILLING_SANDBOX_SIGNING_SECRET")
        or secrets.token_urlsafe(16),
        "MAIL_HOST": "127.0.0.1",
        "MAIL_PORT": str(MAIL_PORT),
        # plain HTTP on localhost: the browser would not send a Secure cookie back, and HSTS
        # would pin localhost to HTTPS. Behind TLS both stay true (production.ini).
        "PORTAL_SECURE_COOKIES": "false",
        "PORTAL_HSTS": "false",
    }


ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def fill_in(template: str, values: dict[str, str]) -> str:
    """The template with each variable in ``values`` set (uncommented), the rest as they are."""
    lines = []
    for line in template.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match.group(2) in values:
            line = f"{match.group(2)}={values[match.group(2)]}"
        lines.append(line)
    missing = set(values) - {m.group(2) for m in map(ASSIGNMENT.match, lines) if m}
    if missing:
        fail(f"deploy/portal.env.example does not list {sorted(missing)}")
    return "\n".join(lines) + "\n"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        fail("nginx is not installed (make prod-local installs it as root: apt-get install nginx)")
    return found


def write_nginx(nginx: str) -> Path:
    """nginx's prefix: the site as deploy/ has it (the checkout's path for /srv/portal) inside
    a main configuration of its own: pid, logs and temporary files under the prefix, so it runs
    as this user beside any nginx of the system's."""
    prefix = RUN / "nginx"
    for folder in ("logs", "temp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    site = (DEPLOY / "nginx" / "portal.conf").read_text(encoding="utf-8")
    (prefix / "portal.conf").write_text(site.replace(INSTALLED_ROOT, str(ROOT)), encoding="utf-8")
    # as root, nginx's workers would run as nobody, who may not read a checkout in a private
    # folder (mktemp -d): keep them as this user
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path temp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"""# written by make prod-local (deploy/prod_local.py); the site is portal.conf
{user}worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events {{
    worker_connections 512;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log logs/access.log;
{temp}
    include portal.conf;
}}
""",
        encoding="utf-8",
    )
    checked = subprocess.run(
        [nginx, "-t", "-q", "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"],
        capture_output=True,
        text=True,
    )
    if checked.returncode != 0:
        fail(f"nginx refuses the configuration:\n{checked.stderr}")
    return prefix


def run_step(command: list[str], environment: dict[str, str], cwd: Path = ROOT) -> None:
    print("$", " ".join(command))
    if subprocess.run(command, cwd=cwd, env=environment).returncode != 0:
        fail(f"{command[0]} failed")


def wait_until_ready(supervisor: subprocess.Popen, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and supervisor.poll() is None:
        try:
            if requests.get(f"{BASE_URL}/readyz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(1)
    return False


def main() -> None:
    check_ports_free()
    nginx = nginx_binary()
    RUN.mkdir(parents=True, exist_ok=True)
    environment_file = RUN / "portal.env"
    previous = read_environment_file(environment_file) if environment_file.exists() else {}
    values = local_values(previous)
    template = (DEPLOY / "portal.env.example").read_text(encoding="utf-8")
    environment_file.write_text(fill_in(template, values), encoding="utf-8")
    environment_file.chmod(0o600)

    # The IdP's keys and metadata exist before the portal, which reads them at start-up.
    DevIdP(RUN / "devidp", IDP_URL, f"{BASE_URL}/saml/metadata")
    prefix = write_nginx(nginx)

    environment = {**os.environ, **values}
    venv = ROOT / ".venv" / "bin"
    run_step([str(venv / "alembic"), "-c", "production.ini", "upgrade", "head"], environment)
    # The demo pays through a sandbox it serves itself meanwhile, keeping its payments in
    # var/sandbox.db under the working directory: the sandbox process then serves that file.
    # A fresh portal database starts with a fresh sandbox: the provider's payments of an
    # earlier run would name payments this database never had.
    if not os.environ.get("DATABASE_URL"):
        for suffix in ("", "-wal", "-shm"):
            (RUN / "var" / f"sandbox.db{suffix}").unlink(missing_ok=True)
    demo_ini = str(ROOT / "production.ini")
    run_step([str(venv / "portal-demo-data"), demo_ini], environment, cwd=RUN)

    environment.update({"PROD_LOCAL_DIR": str(RUN), "PROD_LOCAL_NGINX": nginx})
    for folder in ("tmp", "new", "cur"):  # the stand-in SMTP server's Maildir
        (RUN / "mail" / folder).mkdir(parents=True, exist_ok=True)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "deploy.supervise", "-d", str(ROOT), "-e", str(environment_file)]
        + [str(DEPLOY / "Procfile"), str(DEPLOY / "Procfile.local")],
        cwd=ROOT,
        env=environment,
    )
    try:
        if wait_until_ready(supervisor):
            print(
                f"\n  The portal is ready at {BASE_URL} (nginx in front of two app servers"
                " and two workers).\n  Sign in as a persona of the development IdP; paying"
                f" goes through the sandbox at {SANDBOX_URL}.\n  Logs: this window and"
                f" {prefix}/logs/; mail: {RUN}/mail/. Ctrl-C stops everything.\n",
                flush=True,
            )
        elif supervisor.poll() is None:
            print(f"\n  {BASE_URL}/readyz did not answer 200 within 120 s\n", flush=True)
        supervisor.wait()
    except KeyboardInterrupt:
        # the supervisor got the same Ctrl-C (one process group) and stops every process
        supervisor.send_signal(signal.SIGINT)
        supervisor.wait()
    sys.exit(supervisor.returncode)


if __name__ == "__main__":
    main()
