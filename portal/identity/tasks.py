"""Periodic clean-up of identity records that have outlived their purpose."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from pyramid.registry import Registry
from sqlalchemy import delete

from portal.clock import clock
from portal.identity.models import WebSession
from portal.identity.saml import purge_expired
from portal.tasks import periodic_task, task_dbsession

log = logging.getLogger(__name__)


@periodic_task(crontab(minute="*/15"))
def purge_identity_records(registry: Registry) -> int:
    """Delete sessions past their idle timeout or lifetime, and expired SAML records."""
    config = registry.settings
    now = clock(registry).now()
    idle = now - dt.timedelta(minutes=int(config.get("portal.session.idle_minutes", 30)))
    born = now - dt.timedelta(hours=int(config.get("portal.session.max_hours", 12)))
    with task_dbsession(registry) as dbsession:
        result = dbsession.execute(
            delete(WebSession).where(
                (WebSession.last_seen_at < idle) | (WebSession.created_at < born)
            )
        )
        purge_expired(dbsession, now)
        count = result.rowcount
    log.info("purged %d expired sessions", count)
    return count
