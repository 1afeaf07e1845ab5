"""deploy/ is what a deployer installs, so it must agree with the portal and with itself: the
environment file names every setting the environment can set, nginx takes the bodies the
portal takes and proxies to the app servers the Procfile and systemd start, and nginx itself
accepts the site."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time

import pytest
import requests

from deploy import prod_local
from portal.settings import ENVIRONMENT, REQUIRED
from portal.web import DEFAULT_MAX_REQUEST_BYTES
from tests.conftest import ROOT
from tests.production.conftest import free_port, procfile_commands

DEPLOY = ROOT / "deploy"
SITE = (DEPLOY / "nginx" / "portal.conf").read_text()
EXAMPLE = (DEPLOY / "portal.env.example").read_text()
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def test_the_environment_file_lists_every_variable_the_portal_reads():
    listed = [name for _, name in ASSIGNMENT.findall(EXAMPLE)]
    assert sorted(listed) == sorted(ENVIRONMENT)


def test_the_environment_file_sets_what_the_portal_cannot_start_without():
    required = {name for name, setting in ENVIRONMENT.items() if setting in REQUIRED}
    uncommented = {name for commented, name in ASSIGNMENT.findall(EXAMPLE) if not commented}
    assert required <= uncommented


def test_nginx_refuses_what_the_portal_would_refuse_before_passing_it_on():
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", SITE).group(1))
    assert megabytes * 1024 * 1024 == DEFAULT_MAX_REQUEST_BYTES


def app_server_ports() -> dict[str, set[int]]:
    """The app servers' ports as nginx, the Procfile and the systemd target name them."""
    target = (DEPLOY / "systemd" / "portal.target").read_text()
    return {
        "nginx": {int(port) for port in re.findall(r"server 127\.0\.0\.1:(\d+)", SITE)},
        "Procfile": {
            int(port)
            for command in procfile_commands().values()
            for port in re.findall(r"http_port=(\d+)", command)
        },
        "systemd": {int(port) for port in re.findall(r"portal-web@(\d+)\.service", target)},
    }


def test_nginx_proxies_to_the_app_servers_the_procfile_and_systemd_start():
    ports = app_server_ports()
    assert len(ports["nginx"]) == 2
    assert ports["nginx"] == ports["Procfile"] == ports["systemd"]


def test_the_procfile_and_systemd_run_the_same_commands():
    web = (DEPLOY / "systemd" / "portal-web@.service").read_text()
    worker = (DEPLOY / "systemd" / "portal-worker@.service").read_text()
    commands = procfile_commands()
    assert commands["web1"].replace("6551", "%i") in web.replace("/srv/portal/", "")
    assert commands["worker1"] in worker.replace("/srv/portal/", "")
    assert commands["worker1"] == commands["worker2"]


@pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin") is None, reason="no nginx")
def test_nginx_accepts_the_site_as_make_prod_local_writes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(prod_local, "RUN", tmp_path)
    prefix = prod_local.write_nginx(shutil.which("nginx", path="/usr/sbin:/usr/bin"))
    written = (prefix / "portal.conf").read_text()
    assert f"alias {ROOT}/static/;" in written
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/sbin:/usr/bin"},
    )
    assert checked.returncode == 0, checked.stderr


def test_the_local_sandbox_starts_with_secrets_that_look_like_options(tmp_path):
    """make prod-local generates the sandbox's secrets, and one may begin with "-" (1 in 32
    runs): Procfile.local's sandbox, run as honcho runs it (by the shell), must still start,
    take the merchant's key, and show no secret among its processes' arguments."""
    port = free_port()
    command = procfile_commands("Procfile.local")["sandbox"].replace("6545", str(port))
    api_key, signing_secret = "-" + secrets.token_urlsafe(16), "--" + secrets.token_urlsafe(16)
    environment = {
        **os.environ,
        "PROD_LOCAL_DIR": str(tmp_path),
        "BILLING_SANDBOX_BASE_URL": f"http://127.0.0.1:{port}",
        "BILLING_SANDBOX_MERCHANT_ID": "portal-local",
        "BILLING_SANDBOX_API_KEY": api_key,
        "BILLING_SANDBOX_SIGNING_SECRET": signing_secret,
    }
    (tmp_path / "var").mkdir()
    sandbox = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1/payments"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert sandbox.poll() is None, sandbox.stdout.read().decode(errors="replace")
            try:
                wrong = requests.get(url, params={"reference": "x"}, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the sandbox did not answer within 30 s"
                time.sleep(0.2)
        right = requests.get(
            url,
            params={"reference": "x"},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=5,
        )
        assert (wrong.status_code, right.status_code) == (401, 404)
        arguments = [
            f"/proc/{pid}/cmdline"
            for pid in os.listdir("/proc")
            if pid.isdigit() and _in_group(int(pid), sandbox.pid)
        ]
        assert arguments, "no process of the sandbox's group found"
        for path in arguments:
            with open(path, "rb") as cmdline:
                shown = cmdline.read().decode(errors="replace")
            assert api_key not in shown and signing_secret not in shown
    finally:
        if sandbox.poll() is None:
            os.killpg(sandbox.pid, signal.SIGTERM)
            sandbox.wait(timeout=20)


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False
