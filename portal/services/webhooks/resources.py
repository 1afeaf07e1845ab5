"""Who administers a service's webhooks: the clerks of the department that owns the service
(as for its bill imports, :mod:`portal.services.resources`) and the portal's administrators.
The URL names the service, and the endpoint or delivery is looked up among that service's
own, so another service's is as unknown as one that does not exist (404)."""

from __future__ import annotations

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.catalogue.models import Service
from portal.security import ROLE_ADMIN, department_principal
from portal.services.webhooks.models import WebhookDelivery, WebhookEndpoint

#: an id in a URL fits a 64-bit integer column
MAX_ID_DIGITS = 18


class ServiceWebhooksContext:
    """One service's endpoints and deliveries."""

    def __init__(self, service: Service):
        self.service = service
        self.endpoint: WebhookEndpoint | None = None
        self.delivery: WebhookDelivery | None = None
        self.__acl__ = [
            (Allow, department_principal(service.department_id), "administer"),
            (Allow, ROLE_ADMIN, "administer"),
        ]


def _id(request, name: str) -> int:
    value = request.matchdict[name]
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS):
        raise HTTPNotFound()
    return int(value)


def service_webhooks_factory(request) -> ServiceWebhooksContext:
    service = request.dbsession.scalar(
        select(Service).where(Service.code == request.matchdict["service"][:64])
    )
    if service is None:
        raise HTTPNotFound()
    context = ServiceWebhooksContext(service)
    if "endpoint" in request.matchdict:
        endpoint = request.dbsession.get(WebhookEndpoint, _id(request, "endpoint"))
        if endpoint is None or endpoint.service_id != service.id or endpoint.removed_at:
            raise HTTPNotFound()
        context.endpoint = endpoint
    if "delivery" in request.matchdict:
        delivery = request.dbsession.get(WebhookDelivery, _id(request, "delivery"))
        if delivery is None or delivery.endpoint.service_id != service.id:
            raise HTTPNotFound()
        context.delivery = delivery
    return context
