"""The rate limit of ``/verify``: a sliding window per client address, shared by the
portal's processes (:func:`portal.ratelimit.rate_limiter`).

Enough to stop a single client from enumerating verification codes (the codes' 50 bits of
entropy are the real defence). The limiter is held by the application's registry, so each
application (and each test's) has its own window.
"""

from __future__ import annotations

from pyramid.registry import Registry

from portal.ratelimit import RateLimiter, rate_limiter

_VERIFY_LIMITER = "documents.verify_limiter"


def install_verify_limiter(registry: Registry) -> None:
    """Give the application its limiter of verification checks: 20 a minute per client."""
    registry[_VERIFY_LIMITER] = rate_limiter(registry.settings, "verify", 20, 60)


def verify_limiter(registry: Registry) -> RateLimiter:
    """The application's limiter of verification checks."""
    return registry[_VERIFY_LIMITER]
