"""Rate limits hold across the portal's processes when the queue is Redis (production's
several gunicorn workers and app servers), and still hold in one process when it is not."""

from __future__ import annotations

import secrets
import threading

import pytest
import redis

from portal.ratelimit import RateLimiter, SharedRateLimiter, rate_limiter

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("needs Redis at 127.0.0.1:6379")
    return REDIS_URL


def two_processes(url: str, limit: int, window: float) -> tuple[RateLimiter, RateLimiter]:
    """Two limiters of one name, each with its own connection, as two worker processes
    (or two app servers) would hold them."""
    name = f"test-{secrets.token_hex(6)}"  # windows of their own, whatever ran before
    settings = {"queue.url": url}
    first, second = (rate_limiter(settings, name, limit, window) for _ in range(2))
    assert isinstance(first, SharedRateLimiter) and isinstance(second, SharedRateLimiter)
    return first, second


def test_processes_share_one_window(redis_url):
    first, second = two_processes(redis_url, limit=3, window=60)
    now = 1_000_000.0
    allowed = [
        limiter.allow("203.0.113.7", now + i) for i, limiter in enumerate([first, second] * 2)
    ]
    assert allowed == [True, True, True, False]
    assert second.allow("198.51.100.1", now + 4)  # another client has its own window
    assert not first.allow("203.0.113.7", now + 59)
    assert first.allow("203.0.113.7", now + 61)  # the first hit has left the window


def test_concurrent_hits_from_two_processes_never_pass_the_limit(redis_url):
    first, second = two_processes(redis_url, limit=10, window=60)
    allowed = []
    barrier = threading.Barrier(8)

    def hit(limiter):
        barrier.wait()
        for _ in range(5):
            allowed.append(limiter.allow("203.0.113.7"))

    threads = [threading.Thread(target=hit, args=([first, second][i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 10 and len(allowed) == 40


def test_without_redis_the_limit_is_kept_in_the_process(caplog):
    limiter = rate_limiter({"queue.url": "redis://127.0.0.1:1/0"}, "unreachable", 2, 60)
    assert [limiter.allow("203.0.113.7", 1000.0 + i) for i in range(3)] == [True, True, False]
    assert "Redis unreachable" in caplog.text


def test_a_single_process_portal_keeps_its_own_windows():
    limiter = rate_limiter({"queue.url": "sqlite:///var/queue.db"}, "local", 1, 2)
    assert type(limiter) is RateLimiter
    assert limiter.allow("a", 10.0) and not limiter.allow("a", 11.0) and limiter.allow("a", 12.5)
