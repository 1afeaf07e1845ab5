"""Which services have endpoints, as this process knows it: so that a payment of a service
nobody listens to costs no statement at all (issue 13 holds a whole payment to 20).

Each process reads the set at most once a :data:`REFRESH` (in whichever transaction asks
first), and adds a service at once when it registers an endpoint itself. Another process may
learn of a new endpoint up to a :data:`REFRESH` later; so an endpoint hears events from
:data:`ACTIVATION` after it is added (its ``active_from``), by which time every process's set
includes it. The set only decides whether to look: the endpoints themselves, removed or not,
are always read from the database.
"""

from __future__ import annotations

import datetime as dt
import threading

from pyramid.registry import Registry
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.services.webhooks.models import WebhookEndpoint

REFRESH = dt.timedelta(minutes=1)
#: a refresh, plus time for the registering transaction to commit
ACTIVATION = REFRESH + dt.timedelta(minutes=1)

_KEY = "webhooks.listening_services"


class ListeningServices:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: tuple[frozenset[int], dt.datetime] | None = None

    def services(self, dbsession: Session, now: dt.datetime) -> frozenset[int]:
        known = self._known
        if known is not None and dt.timedelta(0) <= now - known[1] < REFRESH:
            return known[0]
        services = frozenset(
            dbsession.scalars(
                select(WebhookEndpoint.service_id)
                .where(WebhookEndpoint.removed_at.is_(None))
                .distinct()
            )
        )
        with self._lock:
            self._known = (services, now)
        return services

    def add(self, service_id: int) -> None:
        with self._lock:
            if self._known is not None:
                self._known = (self._known[0] | {service_id}, self._known[1])


def listening_services(registry: Registry) -> ListeningServices:
    return registry[_KEY]


def includeme(config) -> None:
    config.registry[_KEY] = ListeningServices()
