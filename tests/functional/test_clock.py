"""The portal's clock: its day is the portal's time zone's, and the periodic clean-ups count
time by it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal.billing.models import IdempotencyKey
from portal.clock import clock as app_clock
from portal.identity.models import WebSession
from tests import factories


def test_the_portals_day_is_the_day_in_its_time_zone(wsgi_app, clock):
    """At 23:30 UTC it is already the next day in Ljubljana (one or two hours ahead)."""
    clock.set(dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC))
    assert clock.today() == dt.date(2026, 12, 3)
    clock.set(dt.datetime(2026, 7, 1, 21, 59, tzinfo=dt.UTC))
    assert clock.today() == dt.date(2026, 7, 1)
    assert app_clock(wsgi_app.registry) is clock


def test_idle_sessions_are_purged_once_the_timeout_has_passed(
    signed_in, dbsession, wsgi_app, clock
):
    from portal.identity.tasks import purge_identity_records

    signed_in("citizen-ana")
    clock.advance(minutes=29)
    assert purge_identity_records(wsgi_app.registry) == 0
    clock.advance(minutes=2)
    assert purge_identity_records(wsgi_app.registry) == 1
    assert dbsession.scalar(select(func.count()).select_from(WebSession)) == 0


def test_idempotency_keys_are_kept_48_hours(dbsession, wsgi_app, clock):
    from portal.billing.tasks import purge_idempotency_keys

    payer = factories.user(dbsession)
    factories.payment(dbsession, payer, [factories.bill(dbsession, payer)], now=clock.now())
    dbsession.commit()
    clock.advance(hours=47)
    purge_idempotency_keys(wsgi_app.registry)
    assert dbsession.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
    clock.advance(hours=2)
    purge_idempotency_keys(wsgi_app.registry)
    assert dbsession.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
