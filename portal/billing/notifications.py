"""The provider's notifications: verified, then processed exactly once.

A notification whose signature or timestamp does not check out is answered 400 and changes
nothing. A verified one is recorded under the provider's event id first; a duplicate finds
the record and is acknowledged without doing anything again.
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing.models import Payment, ProviderEventRecord
from portal.billing.providers import InvalidNotification
from portal.billing.tasks import apply_report
from portal.i18n import _
from portal.refusals import MALFORMED, TOO_LARGE, Refusal
from portal.security import PUBLIC

log = logging.getLogger(__name__)
MAX_NOTIFICATION_BYTES = 64 * 1024


@view_config(
    route_name="provider_notification",
    request_method="POST",
    renderer="json",
    permission=PUBLIC,
    require_csrf=False,
)
def provider_notification(request):
    """Server-to-server: authenticated by the provider's signature, not by a session."""
    provider = request.payment_provider
    if request.matchdict["provider"] != provider.name:
        raise HTTPNotFound()
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        raise Refusal(TOO_LARGE, _("The notification is larger than the portal takes."))
    try:
        event = provider.parse_notification(request.headers, request.body, request.clock.now())
    except InvalidNotification as error:
        log.warning("notification refused: %s", error)
        raise Refusal(MALFORMED, _("The notification could not be verified.")) from None
    dbsession = request.dbsession
    payment = dbsession.scalar(
        select(Payment).where(
            Payment.public_id == event.payment.reference, Payment.provider == provider.name
        )
    )
    try:
        with dbsession.begin_nested():
            dbsession.add(
                ProviderEventRecord(
                    provider=provider.name,
                    event_id=event.event_id,
                    type=event.type,
                    payment_id=payment.id if payment else None,
                )
            )
    except IntegrityError:
        log.info("notification %s already processed", event.event_id)
        return {"status": "duplicate"}
    if payment is None:
        log.warning("notification %s names a payment we do not know", event.event_id)
        return {"status": "unknown payment"}
    apply_report(
        dbsession,
        payment,
        event.payment,
        f"provider notification {event.type}",
        request.clock.now(),
        refund=event.refund,
    )
    return {"status": "processed"}
