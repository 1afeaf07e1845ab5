"""A small sliding-window rate limiter, per client address and per process.

Enough to stop a single client from enumerating verification codes from one web process;
behind several processes each keeps its own window (the codes' 50 bits of entropy are the
real defence). The limiter of ``/verify`` is held by the application's registry, so each
application (and each test's) has its own window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from pyramid.registry import Registry

_VERIFY_LIMITER = "documents.verify_limiter"


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, max_clients: int = 10_000):
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.pop(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(now)
            self._hits[client] = hits
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            return allowed


def install_verify_limiter(registry: Registry) -> None:
    """Give the application its limiter of verification checks: 20 a minute per client."""
    registry[_VERIFY_LIMITER] = RateLimiter(limit=20, window_seconds=60)


def verify_limiter(registry: Registry) -> RateLimiter:
    """The application's limiter of verification checks."""
    return registry[_VERIFY_LIMITER]
