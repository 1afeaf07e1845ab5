"""A reference receiver of the portal's webhooks: how a service checks a delivery.

Run: ``python bench/webhook_receiver.py --port 8765 --secret whsec_...`` (``--secret`` may be
given twice during a rotation; ``--secret-file`` reads them from a file, one a line). It uses
the standard library only, so a service can copy it. For each ``POST`` it:

1. reads ``Portal-Signature: t=<unix time>,v1=<hex>[,v1=<hex>]``;
2. refuses a timestamp more than ``--tolerance`` seconds (300) from its own clock: a captured
   delivery replayed later does not verify;
3. computes HMAC-SHA256 of ``"<t>.<raw body>"`` with each secret it holds and accepts if any
   ``v1`` value equals one of them (compared in constant time): during a rotation the portal
   signs with the old and the new secret, so either one verifies;
4. takes the event id (``id`` in the body, also the ``Portal-Event-Id`` header) and answers
   200 without acting again if it has seen it: the portal may deliver an event more than
   once (a retry after a lost answer, a resend), never a different event under the same id.

It answers 2xx to what it accepted and 400 to what it refused; anything but 2xx makes the
portal try again later (after 1, 2, 4... minutes, for 24 hours).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
MAX_BODY = 1_000_000


def verify(header: str, body: bytes, secrets: list[str], now: float, tolerance: int) -> bool:
    """Whether ``header`` is a valid ``Portal-Signature`` of ``body`` under one of
    ``secrets``, made within ``tolerance`` seconds of ``now``."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return any(hmac.compare_digest(e, given) for e in expected for given in signatures)


class Receiver:
    """The events a service has accepted, each once, and the secrets it checks with."""

    def __init__(
        self, secrets: list[str], tolerance: int = TOLERANCE_SECONDS, clock=time.time, echo=False
    ):
        self.secrets = list(secrets)
        self.tolerance = tolerance
        self.clock = clock
        self.echo = echo
        self.events: dict[str, dict] = {}
        self.refused = 0
        #: deliveries that verified, repeats included
        self.received = 0
        self.lock = threading.Lock()

    def receive(self, header: str, body: bytes) -> int:
        """The HTTP status to answer a delivery with."""
        if not verify(header, body, self.secrets, self.clock(), self.tolerance):
            with self.lock:
                self.refused += 1
            if self.echo:
                print("refused: signature or timestamp does not verify", flush=True)
            return 400
        event = json.loads(body)
        with self.lock:
            self.received += 1
            repeated = event["id"] in self.events
            if not repeated:
                self.events[event["id"]] = event  # a real service acts on the event here
        if self.echo:
            bill = event["data"]["bill"]
            seen = " (already seen: not acted on again)" if repeated else ""
            print(
                f"{event['type']} {event['id']}: bill {bill['number']} {bill['status']}{seen}",
                flush=True,
            )
        return 200


def serve(receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``receiver`` (``port`` 0: any free port), not yet serving."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length)
            status = receiver.receive(self.headers.get("Portal-Signature", ""), body)
            answer = b"accepted" if status == 200 else b"refused"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument(
        "--secret-file", action="append", default=[], help="a file of secrets, one a line"
    )
    parser.add_argument("--tolerance", type=int, default=TOLERANCE_SECONDS)
    arguments = parser.parse_args()
    secrets = list(arguments.secret)
    for path in arguments.secret_file:
        with open(path) as lines:
            secrets += [line.strip() for line in lines if line.strip()]
    if not secrets:
        parser.error("give at least one --secret or --secret-file")
    receiver = Receiver(secrets, arguments.tolerance, echo=True)
    server = serve(receiver, arguments.host, arguments.port)
    print(f"receiving webhooks on http://{arguments.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
