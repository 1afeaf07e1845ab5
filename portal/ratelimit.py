"""Sliding-window rate limits, per key: kept in Redis when the portal runs on several
processes, in the process otherwise.

Production serves from several worker processes (gunicorn, see production.ini), so a limit
kept in each process would be multiplied by the workers and forgotten whenever a worker is
recycled. :func:`rate_limiter` therefore keeps the windows in Redis whenever the task queue is
Redis (``queue.url``), where every process of every app server sees the same window; with the
development defaults (one process, SQLite queue) each application keeps its own. Limiters are
held by the application's registry, so each application (and each test) has its own.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque

import redis

log = logging.getLogger(__name__)

#: drop the window's old hits, then count and (if below the limit) record this one: in one
#: step, so concurrent requests from several processes cannot all squeeze under the limit
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
    return 1
end
return 0
"""


class RateLimiter:
    """At most ``limit`` hits per ``window_seconds`` for each client, in this process."""

    def __init__(self, limit: int, window_seconds: float, max_clients: int = 10_000):
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
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


class SharedRateLimiter(RateLimiter):
    """The same limit with its windows in Redis, shared by every process that uses ``name``.

    If Redis cannot be reached the limit is still kept, in this process (logged): a limit
    that is briefly per process is better than none, or than refusing everyone.
    """

    def __init__(self, client: redis.Redis, name: str, limit: int, window_seconds: float):
        super().__init__(limit, window_seconds)
        self.prefix = f"portal:ratelimit:{name}:"
        self._script = client.register_script(_SLIDING_WINDOW)

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        member = f"{now}:{secrets.token_hex(4)}"
        try:
            allowed = self._script(
                keys=[self.prefix + client], args=[now, self.window, self.limit, member]
            )
        except redis.RedisError as error:
            log.warning("rate limit kept in this process: Redis unreachable (%s)", error)
            return super().allow(client, now)
        return bool(allowed)


def rate_limiter(settings, name: str, limit: int, window_seconds: float) -> RateLimiter:
    """A limiter of ``limit`` hits per ``window_seconds`` per client: shared through Redis if
    the task queue is Redis (``queue.url``), else this process's own."""
    url = settings.get("queue.url", "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return SharedRateLimiter(client, name, limit, window_seconds)
    return RateLimiter(limit, window_seconds)
