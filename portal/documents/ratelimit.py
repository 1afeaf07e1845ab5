"""The rate limit of ``/verify``: a sliding window per client address and per process.

Enough to stop a single client from enumerating verification codes from one web process;
behind several processes each keeps its own window (the codes' 50 bits of entropy are the
real defence). The limiter of ``/verify`` is held by the application's registry, so each
application (and each test's) has its own window.
"""

from __future__ import annotations

from pyramid.registry import Registry

from portal.ratelimit import RateLimiter

_VERIFY_LIMITER = "documents.verify_limiter"


def install_verify_limiter(registry: Registry) -> None:
    """Give the application its limiter of verification checks: 20 a minute per client."""
    registry[_VERIFY_LIMITER] = RateLimiter(limit=20, window_seconds=60)


def verify_limiter(registry: Registry) -> RateLimiter:
    """The application's limiter of verification checks."""
    return registry[_VERIFY_LIMITER]
