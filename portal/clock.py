"""The portal's clock: what time it is now, and which day it is where the portal works.

Every "now" and "today" in the portal comes from the registry's :class:`Clock`
(``request.clock`` in a request, ``clock(registry)`` in a task or script), never from the
system clock directly, so that deadlines and expiry can be tested by moving time rather than
by editing the timestamps they are compared with.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pyramid.registry import Registry

_CLOCK = "clock"


class Clock:
    """The system's time, with the day counted in the portal's time zone (``portal.timezone``):
    a bill due "today" is due on the calendar day of the people it serves, not UTC's."""

    def __init__(self, timezone: ZoneInfo):
        self.timezone = timezone

    def now(self) -> dt.datetime:
        """The current time, aware and in UTC, as the database keeps it."""
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        """The calendar day it is now in the portal's time zone."""
        return self.now().astimezone(self.timezone).date()


def clock_from_settings(settings: dict) -> Clock:
    return Clock(ZoneInfo(settings.get("portal.timezone", "UTC")))


def install_clock(registry: Registry, clock: Clock) -> None:
    """Make ``clock`` the application's clock (a test installs one it can move)."""
    registry[_CLOCK] = clock


def clock(registry: Registry) -> Clock:
    """The application's clock."""
    return registry[_CLOCK]


def request_clock(request) -> Clock:
    return clock(request.registry)


def includeme(config) -> None:
    install_clock(config.registry, clock_from_settings(config.get_settings()))
    config.add_request_method(request_clock, "clock", reify=True)
