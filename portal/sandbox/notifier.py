"""Delivers signed notifications from the durable outbox, as unreliably as real providers do.

Events are written to the outbox in the same transaction as the change they announce, so none is
lost when the process stops; a background thread posts them, retries with capped exponential
backoff, and, on purpose, sometimes sends one twice (`duplicate_rate`) or holds one back
(`reorder_rate`) so that later events overtake it. The portal must cope with all three.
"""

import hashlib
import hmac
import logging
import random
import threading
import time

import requests

from .store import Store

log = logging.getLogger(__name__)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix ts>,v1=<hex HMAC-SHA256(secret, b"<t>." + body)>`, as documented for the portal."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class Notifier:
    """The outbox's delivery thread; `start()` once, `stop()` to end it (tests, shutdown)."""

    def __init__(
        self,
        store: Store,
        secret: str,
        *,
        duplicate_rate: float,
        reorder_rate: float,
        reorder_delay: float,
        retry_base_delay: float,
        retry_max_delay: float,
        max_attempts: int,
        timeout: float,
        seed: int | None = None,
    ):
        self.store = store
        self.secret = secret
        self.duplicate_rate = duplicate_rate
        self.reorder_rate = reorder_rate
        self.reorder_delay = reorder_delay
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.max_attempts = max_attempts
        self.timeout = timeout
        # One generator per decision, so a seed replays each sequence whatever the threads' timing.
        self._reorder_random = random.Random(seed)  # noqa: S311 (chaos, not security)
        self._duplicate_random = random.Random(None if seed is None else seed + 1)  # noqa: S311
        self._random_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    def first_attempt_at(self, now: float) -> float:
        """When a new event is first tried: now, or later if this is one to deliver out of order."""
        held_back = self._chance(self._reorder_random, self.reorder_rate)
        return now + self.reorder_delay if held_back else now

    def wake(self) -> None:
        """Tell the thread that an event was committed, so it need not wait for its next poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._http.close()

    def _chance(self, generator: random.Random, rate: float) -> bool:
        with self._random_lock:
            return generator.random() < rate

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                self.deliver_due()
                with self.store.transaction() as records:
                    due_at = records.next_event_due_at()
            except Exception:
                log.exception("notification delivery failed; retrying shortly")
                due_at = None
            wait = 1.0 if due_at is None else min(1.0, max(0.0, due_at - time.time()))
            self._wakeup.wait(wait)

    def deliver_due(self) -> None:
        with self.store.transaction() as records:
            due = records.due_events(time.time())
        for event in due:
            if self._stopping.is_set():
                return
            error = self._post(event["notify_url"], event["body"].encode())
            now = time.time()
            with self.store.transaction() as records:
                if error is None:
                    records.record_delivery(event["seq"], now)
                else:
                    attempts = event["attempts"] + 1
                    retry_at = None
                    if attempts < self.max_attempts:
                        delay = self.retry_base_delay * 2 ** (attempts - 1)
                        retry_at = now + min(delay, self.retry_max_delay)
                    records.record_failure(event["seq"], error, retry_at, now)
            if error is None and self._chance(self._duplicate_random, self.duplicate_rate):
                self._post(event["notify_url"], event["body"].encode())

    def _post(self, url: str, body: bytes) -> str | None:
        """POST one signed event; the error text, or None when the receiver answered 2xx."""
        headers = {
            "Content-Type": "application/json",
            "Sandbox-Signature": signature_header(self.secret, body, int(time.time())),
        }
        try:
            response = self._http.post(
                url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"
        if not 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        return None
