"""The provider's notifications: verified, then processed exactly once.

A notification whose signature or timestamp does not check out is answered 400 and changes
nothing. A verified one is recorded under the provider's event id first; a duplicate finds
the record and is acknowledged without doing anything again.
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import bindparam, select

from portal.billing.models import Payment, ProviderEventRecord
from portal.billing.payments import lock_payment
from portal.billing.providers import InvalidNotification, ProviderUnavailable, payment_providers
from portal.billing.tasks import apply_report
from portal.db import Prebuilt, insert_unless_present, run_write, table_of, utcnow
from portal.i18n import _
from portal.refusals import MALFORMED, NOT_FOUND, TOO_LARGE, UNAVAILABLE, Refusal
from portal.security import PUBLIC

log = logging.getLogger(__name__)
MAX_NOTIFICATION_BYTES = 64 * 1024

_EVENTS = table_of(ProviderEventRecord)
_RECORD_EVENT = Prebuilt(
    lambda dialect: (
        insert_unless_present(dialect, _EVENTS, "provider", "event_id")
        .values(
            provider=bindparam("provider"),
            event_id=bindparam("event_id"),
            type=bindparam("type"),
            payment_id=select(Payment.id)
            .where(
                Payment.public_id == bindparam("reference"),
                Payment.provider == bindparam("provider"),
            )
            .scalar_subquery(),
            received_at=bindparam("received_at"),
        )
        .returning(_EVENTS.c.payment_id)
    )
)


@view_config(
    route_name="provider_notification",
    request_method="POST",
    renderer="json",
    permission=PUBLIC,
    require_csrf=False,
)
def provider_notification(request):
    """Server-to-server: authenticated by the signature of the provider the URL names (each
    provider is given its own URL), not by a session."""
    provider = payment_providers(request.registry).get(request.matchdict["provider"])
    if provider is None:
        raise HTTPNotFound()
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        raise Refusal(TOO_LARGE, _("The notification is larger than the portal takes."))
    try:
        event = provider.parse_notification(request.headers, request.body, request.clock.now())
    except InvalidNotification as error:
        log.warning("notification to %s refused: %s", provider.name, error)
        raise Refusal(MALFORMED, _("The notification could not be verified.")) from None
    except ProviderUnavailable:
        # verified, but what it is about could not be read from the provider: it retries
        log.warning("notification to %s: provider unavailable, asked to retry", provider.name)
        raise Refusal(
            UNAVAILABLE, _("The notification cannot be processed now. Send it again later.")
        ) from None
    if event is None:
        log.info("notification to %s of no concern to billing acknowledged", provider.name)
        return {"status": "ignored"}
    dbsession = request.dbsession
    # Recorded first, with the payment it names: a duplicate (repeated, or delivered twice
    # at once: PostgreSQL makes the second wait for the first) inserts nothing.
    recorded = run_write(
        dbsession,
        _RECORD_EVENT(dbsession),
        {
            "provider": provider.name,
            "event_id": event.event_id,
            "type": event.type,
            "reference": event.payment.reference,
            "received_at": utcnow(),
        },
    ).first()
    if recorded is None:
        log.info("notification %s already processed", event.event_id)
        return {"status": "duplicate"}
    if recorded.payment_id is None:
        # refused, so the record above is rolled back: nothing is kept of what we do not know
        log.warning("notification %s names a payment we do not know", event.event_id)
        raise Refusal(NOT_FOUND, _("The notification names a payment the portal does not know."))
    payment = lock_payment(
        dbsession, recorded.payment_id, settling=event.payment.status == "succeeded"
    )
    if payment.provider_payment_id not in (None, event.payment.provider_payment_id):
        # our reference on a session (a provider payment) the portal did not open
        log.warning("notification %s names another provider payment", event.event_id)
        raise Refusal(NOT_FOUND, _("The notification names a payment the portal does not know."))
    apply_report(
        dbsession,
        payment,
        event.payment,
        f"provider notification {event.type}",
        request.clock.now(),
        refund=event.refund,
        refunds=event.refunds,
        locked=True,
    )
    return {"status": "processed"}
