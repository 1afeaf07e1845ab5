"""The reconciliation page: a day's settlement report against the portal's records, the same
comparison ``portal-reconcile`` prints.

The provider settles by UTC day; the page says when that day starts and ends, and when each
line was settled, in the portal's time zone like every other page. A clerk sees the lines of
payments to their own departments (see :mod:`portal.billing.reconciliation`), an
administrator all of them."""

from __future__ import annotations

import datetime as dt
import logging

from pyramid.view import view_config

from portal.billing.providers import ProviderRefused, ProviderUnavailable, payment_providers
from portal.billing.reconciliation import day_span, reconcile
from portal.billing.statements import lines_booked
from portal.dates import query_day
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.refusals import NOT_FOUND, UNAVAILABLE, Refusal

log = logging.getLogger(__name__)


@view_config(
    route_name="backoffice_reconciliation",
    renderer="billing/backoffice/reconciliation.jinja2",
    permission="backoffice",
    assurance=CLERK,
)
def reconciliation(request):
    today = request.clock.now().date()  # settlement reports are kept by UTC day
    day = query_day(request, "date") or today - dt.timedelta(days=1)
    providers = payment_providers(request.registry)
    name = request.GET.get("provider", "")
    if name and name not in providers:
        raise Refusal(NOT_FOUND, _("There is no such payment provider."))
    provider = providers[name] if name else request.payment_provider
    try:
        departments = None if request.user.is_admin else frozenset(request.user.department_ids)
        result = reconcile(request.dbsession, provider, day, departments)
    except (ProviderUnavailable, ProviderRefused) as error:
        log.warning("settlement report of %s unavailable: %s", day, error)
        raise Refusal(
            UNAVAILABLE,
            _("The payment provider's settlement report cannot be fetched. Try again later."),
        ) from None
    start, end = day_span(day)
    return {
        "result": result,
        "provider": provider.name,
        # the others to switch to, when several are configured
        "providers": list(providers) if len(providers) > 1 else [],
        "date": day,
        "starts": start,
        "ends": end,
        "settled_at": {(line.kind, line.reference): line.settled_at for line in result.lines},
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1) if day < today else None,
        "scoped": departments is not None,
        # bank transfers booked that day, beside the card provider's settlement
        "bank_lines": lines_booked(request.dbsession, day, departments),
    }
