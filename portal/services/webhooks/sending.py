"""One HTTP POST of a delivery to a checked address (:class:`~.addresses.Target`).

urllib3 rather than requests: it connects to the address that was checked while still
naming the host in the ``Host`` header and checking the TLS certificate against the host
name, so a DNS answer changed after the check cannot redirect the request. Redirects are not
followed, nothing is retried here (the outbox retries), and of the answer only a short
excerpt is read.

An attempt is bounded whatever the receiver does: at most :data:`MAX_ADDRESSES` addresses
are tried, and a watchdog cuts the connection at the attempt's deadline (a receiver trickling
its answer a byte at a time would otherwise reset the read timeout at every byte).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from portal.services.webhooks.addresses import Target

#: how much of a receiver's answer is kept for the delivery log
EXCERPT_BYTES = 300
#: addresses of one host tried in one attempt (a host resolving to dozens of addresses that
#: each time out would hold the attempt for minutes)
MAX_ADDRESSES = 3
#: what an attempt that ran out of time records
DEADLINE_PASSED = "deadline passed"


@dataclass(frozen=True)
class Answer:
    """What came back: the status (``None`` when nothing did) and a short excerpt, or the
    error that stopped the attempt (its kind only: no URL, no secret)."""

    status: int | None
    excerpt: str = ""
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    deadline_seconds: float,
    ca_certs: str | None = None,
) -> Answer:
    """POST to the target's first address that takes the connection (``localhost`` may
    resolve to ``::1`` and ``127.0.0.1`` while the receiver listens on one of them), trying at
    most :data:`MAX_ADDRESSES`, and giving up ``deadline_seconds`` after the start."""
    deadline = time.monotonic() + deadline_seconds
    answer = Answer(None, error="no address")
    for address in target.addresses[:MAX_ADDRESSES]:
        answer = _post_to(
            address, target, body, headers, connect_timeout, read_timeout, ca_certs, deadline
        )
        if answer.error not in _NOT_CONNECTED:
            break
    return answer


#: errors after which the next address is tried: nothing was sent
_NOT_CONNECTED = {"NewConnectionError", "ConnectTimeoutError"}


def _cut(connection: HTTPConnection) -> None:
    """End a connection another thread is blocked on: its socket shut down (the plain
    socket's shutdown, also under TLS: the TLS layer is left to the reading thread)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _post_to(
    address: str,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    ca_certs: str | None,
    deadline: float,
) -> Answer:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Answer(None, error=DEADLINE_PASSED)
    connection: HTTPConnection
    if target.scheme == "https":
        connection = HTTPSConnection(
            address,
            target.port,
            timeout=min(connect_timeout, remaining),
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        connection = HTTPConnection(address, target.port, timeout=min(connect_timeout, remaining))
    watchdog = threading.Timer(remaining, _cut, (connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.connect()
        connection.timeout = min(read_timeout, max(deadline - time.monotonic(), 0.001))
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            preload_content=False,
            decode_content=False,
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES, decode_content=False)
        return Answer(response.status, excerpt.decode("utf-8", "replace"))
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        if time.monotonic() >= deadline:
            return Answer(None, error=DEADLINE_PASSED)
        return Answer(None, error=type(error).__name__)
    finally:
        watchdog.cancel()
        connection.close()
