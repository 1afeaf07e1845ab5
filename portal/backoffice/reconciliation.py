"""The reconciliation page: a day's settlement report against the portal's records, the same
comparison ``portal-reconcile`` prints."""

from __future__ import annotations

import datetime as dt
import logging

from pyramid.httpexceptions import HTTPServiceUnavailable
from pyramid.view import view_config

from portal.billing.providers import ProviderRefused, ProviderUnavailable
from portal.billing.reconciliation import reconcile
from portal.i18n import _
from portal.identity.assurance import CLERK, require_assurance
from portal.web import query_date

log = logging.getLogger(__name__)


@view_config(
    route_name="backoffice_reconciliation",
    renderer="backoffice/reconciliation.jinja2",
    permission="backoffice",
)
def reconciliation(request):
    require_assurance(request, CLERK)
    today = dt.datetime.now(dt.UTC).date()
    day = query_date(request, "date") or today - dt.timedelta(days=1)
    try:
        result = reconcile(request.dbsession, request.payment_provider, day)
    except (ProviderUnavailable, ProviderRefused) as error:
        log.warning("settlement report of %s unavailable: %s", day, error)
        raise HTTPServiceUnavailable(
            detail=_("The payment provider's settlement report cannot be fetched. Try again later.")
        ) from None
    return {
        "result": result,
        "date": day,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1) if day < today else None,
    }
