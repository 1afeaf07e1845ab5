"""The services' public pages: the catalogue, a service's page and the citizen's utility
accounts. Clerk and administrator pages are in :mod:`portal.services.backoffice`."""

from __future__ import annotations

import logging
import uuid

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select

from portal.catalogue.interfaces import public_service, public_services
from portal.catalogue.models import Service
from portal.catalogue.texts import service_rows, service_text
from portal.i18n import _
from portal.localized import localized
from portal.security import PUBLIC
from portal.services import fees
from portal.services.catalogue import search
from portal.services.utilities import accounts_of

log = logging.getLogger(__name__)

MAX_QUERY = 100
#: what a service's ``issues`` names, as people read it
ISSUED = {"certificate": _("a certificate (PDF) to download")}


@view_config(route_name="services", renderer="services/catalogue.jinja2", permission=PUBLIC)
def catalogue(request):
    query = request.GET.get("q", "")[:MAX_QUERY].strip()
    rows, locale = service_rows(request.dbsession), request.localizer.locale_name
    listed = [
        service_text(plugin.info, rows.get(code), locale)
        for code, plugin in public_services(request.registry).items()
        if plugin.info.listed
    ]
    return {"services": search(listed, query), "query": query}


@view_config(route_name="service", renderer="services/service.jinja2", permission=PUBLIC)
def service_page(request):
    """What a service is, what it costs today (and what is already decided), what is needed."""
    plugin = public_service(request.registry, request.matchdict["code"])
    if plugin is None or not plugin.info.listed:
        raise HTTPNotFound()
    today = request.clock.today()
    row = request.dbsession.scalar(select(Service).where(Service.code == plugin.info.code))
    locale = request.localizer.locale_name
    return {
        "service": plugin.info,
        "text": service_text(plugin.info, row, locale),
        "department": localized(row.department, "name", locale) if row is not None else None,
        "issues": request.localizer.translate(ISSUED.get(plugin.info.issues, plugin.info.issues))
        if plugin.info.issues
        else None,
        "fees": fees.schedule_in_force(request.dbsession, plugin.info.code, today),
        "scheduled": fees.scheduled_changes(request.dbsession, plugin.info.code, today),
    }


@view_config(route_name="utilities", renderer="services/utilities.jinja2", permission="account")
def utilities(request):
    return {
        "accounts": accounts_of(request.dbsession, request.registry, request.user),
        "idempotency_key": uuid.uuid4().hex + uuid.uuid4().hex[:8],
    }
