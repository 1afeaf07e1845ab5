"""Webhooks to services: a service's own system hears when its bills are paid, partly paid,
refunded or cancelled.

Billing's events are written to an outbox in the transaction that made them
(:mod:`.outbox`), sent after commit through the task queue, signed with HMAC-SHA256
(:mod:`.signing`), to addresses checked against SSRF (:mod:`.addresses`), and retried with
exponential backoff for a day (:mod:`.delivery`). The department that owns a service, and the
portal's administrators, manage its endpoints and see its delivery log (:mod:`.views`).
"""

FACTORY = "portal.services.webhooks.resources.service_webhooks_factory"


def includeme(config) -> None:
    config.include("portal.services.webhooks.delivery")
    config.include("portal.services.webhooks.listening")
    config.include("portal.services.webhooks.outbox")
    config.add_route("webhooks", "/backoffice/webhooks")
    base = "/backoffice/services/{service}/webhooks"
    config.add_route("service_webhooks", base, factory=FACTORY)
    config.add_route("webhook_deliveries", base + "/deliveries", factory=FACTORY)
    config.add_route("webhook_resend", base + "/deliveries/{delivery}/resend", factory=FACTORY)
    config.add_route("webhook_rotate", base + "/{endpoint}/rotate", factory=FACTORY)
    config.add_route("webhook_retire", base + "/{endpoint}/retire", factory=FACTORY)
    config.add_route("webhook_remove", base + "/{endpoint}/remove", factory=FACTORY)
