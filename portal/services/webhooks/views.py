"""The service administrator's webhook pages: endpoints and their events, secrets (shown
once), the delivery log and its resend button. Every change is a CSRF-checked POST and goes
into the audit trail (no URL, no secret: the endpoint's id)."""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from portal.audit import record_request
from portal.catalogue.models import Service
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.refusals import CONFLICT, Refusal
from portal.services.webhooks.delivery import address_policy, resend
from portal.services.webhooks.endpoints import (
    live_endpoints,
    register_endpoint,
    remove_endpoint,
    retire_old_secret,
    rotate_secret,
)
from portal.services.webhooks.models import WebhookDelivery, WebhookEndpoint
from portal.services.webhooks.outbox import EVENT_TYPES
from portal.services.webhooks.resources import ServiceWebhooksContext
from portal.services.webhooks.signing import HEADER
from portal.web import form_refused

log = logging.getLogger(__name__)

#: deliveries shown in the log, newest first
LOG_LENGTH = 100


@view_config(
    route_name="webhooks",
    request_method="GET",
    renderer="services/webhooks/index.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def webhooks_index(request):
    """The services whose webhooks this person administers."""
    services = request.dbsession.scalars(select(Service).order_by(Service.name))
    return {
        "services": [
            service
            for service in services
            if request.has_permission("administer", ServiceWebhooksContext(service))
        ]
    }


def _service_page(context, request, errors=None, values=None):
    return {
        "service": context.service,
        "endpoints": live_endpoints(context.service, request.dbsession),
        "event_types": EVENT_TYPES,
        "errors": errors or {},
        "values": values or {"url": "", "events": list(EVENT_TYPES)},
        "header": HEADER,
    }


@view_config(
    route_name="service_webhooks",
    request_method="GET",
    renderer="services/webhooks/service.jinja2",
    permission="administer",
    assurance=CLERK,
)
def service_webhooks(context, request):
    return _service_page(context, request)


def _secret_page(request, context, endpoint: WebhookEndpoint, secret: str, rotated: bool):
    """The one page that shows a secret: never cached, never in a URL."""
    request.response.cache_control = "no-store"
    return {"service": context.service, "endpoint": endpoint, "secret": secret, "rotated": rotated}


@view_config(
    route_name="service_webhooks",
    request_method="POST",
    renderer="services/webhooks/service.jinja2",
    permission="administer",
    assurance=CLERK,
)
def add_endpoint(context, request):
    url = str(request.POST.get("url", ""))
    events = [str(event) for event in request.POST.getall("events")]
    try:
        endpoint, secret = register_endpoint(
            request.dbsession,
            address_policy(request.registry),
            request.pii,
            context.service,
            url,
            events,
            request.user.id,
            request.clock.now(),
        )
    except Refusal as refused:
        errors = form_refused(request, refused)
        return _service_page(context, request, errors, {"url": url, "events": events})
    record_request(
        request,
        "webhooks.endpoint_added",
        object=("webhook_endpoint", endpoint.id),
        details={"service": context.service.code, "events": endpoint.event_types},
    )
    log.info("webhook endpoint %s added for %s", endpoint.id, context.service.code)
    request.override_renderer = "services/webhooks/secret.jinja2"
    return _secret_page(request, context, endpoint, secret, rotated=False)


@view_config(
    route_name="webhook_rotate",
    request_method="POST",
    renderer="services/webhooks/secret.jinja2",
    permission="administer",
    assurance=CLERK,
)
def rotate(context, request):
    endpoint = context.endpoint
    secret = rotate_secret(request.pii, endpoint, request.clock.now())
    request.dbsession.flush()
    record_request(request, "webhooks.secret_rotated", object=("webhook_endpoint", endpoint.id))
    log.info("webhook endpoint %s: secret rotation started", endpoint.id)
    return _secret_page(request, context, endpoint, secret, rotated=True)


@view_config(
    route_name="webhook_retire",
    request_method="POST",
    permission="administer",
    assurance=CLERK,
)
def retire(context, request):
    endpoint = context.endpoint
    retire_old_secret(endpoint, request.clock.now())
    record_request(request, "webhooks.secret_retired", object=("webhook_endpoint", endpoint.id))
    log.info("webhook endpoint %s: old secret retired", endpoint.id)
    request.session.flash(
        request.localizer.translate(_("The old secret was retired: only the new one signs now."))
    )
    return HTTPSeeOther(request.route_url("service_webhooks", service=context.service.code))


@view_config(
    route_name="webhook_remove",
    request_method="POST",
    permission="administer",
    assurance=CLERK,
)
def remove(context, request):
    endpoint = context.endpoint
    remove_endpoint(endpoint, request.clock.now())
    record_request(request, "webhooks.endpoint_removed", object=("webhook_endpoint", endpoint.id))
    log.info("webhook endpoint %s removed", endpoint.id)
    request.session.flash(request.localizer.translate(_("The endpoint was removed.")))
    return HTTPSeeOther(request.route_url("service_webhooks", service=context.service.code))


@view_config(
    route_name="webhook_deliveries",
    request_method="GET",
    renderer="services/webhooks/deliveries.jinja2",
    permission="administer",
    assurance=CLERK,
)
def deliveries(context, request):
    """The service's latest deliveries, to every endpoint it has had."""
    rows = request.dbsession.scalars(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .where(WebhookEndpoint.service_id == context.service.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(LOG_LENGTH)
    )
    return {"service": context.service, "deliveries": list(rows), "event_types": EVENT_TYPES}


@view_config(
    route_name="webhook_resend",
    request_method="POST",
    permission="administer",
    assurance=CLERK,
)
def resend_delivery(context, request):
    delivery = context.delivery
    if delivery.endpoint.removed_at is not None:
        raise Refusal(CONFLICT, _("The endpoint was removed: its deliveries cannot be resent."))
    resend(request.dbsession, delivery, request.clock.now())
    record_request(request, "webhooks.resent", object=("webhook_delivery", delivery.id))
    log.info("webhook delivery %s resent", delivery.id)
    request.session.flash(request.localizer.translate(_("The delivery will be sent again.")))
    return HTTPSeeOther(request.route_url("webhook_deliveries", service=context.service.code))
