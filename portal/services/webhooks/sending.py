"""One HTTP POST of a delivery to a checked address (:class:`~.addresses.Target`).

urllib3 rather than requests: it connects to the address that was checked while still
naming the host in the ``Host`` header and checking the TLS certificate against the host
name, so a DNS answer changed after the check cannot redirect the request. Redirects are not
followed, nothing is retried here (the outbox retries), and of the answer only a short
excerpt is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import urllib3

from portal.services.webhooks.addresses import Target

#: how much of a receiver's answer is kept for the delivery log
EXCERPT_BYTES = 300


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
    ca_certs: str | None = None,
) -> Answer:
    """POST to the target's first address that takes the connection (``localhost`` may
    resolve to ``::1`` and ``127.0.0.1`` while the receiver listens on one of them)."""
    answer = Answer(None, error="no address")
    for address in target.addresses:
        answer = _post_to(address, target, body, headers, connect_timeout, read_timeout, ca_certs)
        if answer.error not in _NOT_CONNECTED:
            break
    return answer


#: errors after which the next address is tried: nothing was sent
_NOT_CONNECTED = {"NewConnectionError", "ConnectTimeoutError"}


def _post_to(
    address: str,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    ca_certs: str | None,
) -> Answer:
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(EXCERPT_BYTES, decode_content=False)
        finally:
            response.release_conn()
        return Answer(response.status, excerpt.decode("utf-8", "replace"))
    except urllib3.exceptions.HTTPError as error:
        return Answer(None, error=type(error).__name__)
    finally:
        pool.close()
