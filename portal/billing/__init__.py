"""Billing core: money, bills, the double-entry ledger, payments, refunds, the provider."""

import datetime as dt

from pyramid.events import BeforeRender

from portal.billing.ledger import AlreadyPosted
from portal.billing.payment_documents import add_payment_documents
from portal.billing.providers import provider_from_settings
from portal.billing.surcharges import add_bill_surcharge
from portal.billing.templating import add_globals
from portal.i18n import _
from portal.web import conflict


def payment_timeout(settings) -> dt.timedelta:
    return dt.timedelta(minutes=int(settings.get("billing.payment_timeout_minutes", 90)))


def includeme(config) -> None:
    settings = config.get_settings()
    config.add_directive("add_bill_surcharge", add_bill_surcharge)
    config.add_directive("add_payment_documents", add_payment_documents)
    config.add_subscriber(add_globals, BeforeRender)
    provider = provider_from_settings(settings)
    config.registry["payment_provider"] = provider
    config.add_form_target(provider.origin)
    config.add_request_method(
        lambda request: request.registry["payment_provider"], "payment_provider", reify=True
    )
    # the same business event posted by two requests at once: the loser is told, not a 500
    config.add_exception_view(conflict, context=AlreadyPosted)
    config.add_route("provider_notification", "/billing/notifications/{provider}")
    config.add_route("bills", "/bills")
    config.add_route("pay", "/bills/pay")
    config.add_route(
        "payment", "/payments/{public_id}", factory="portal.billing.resources.payment_factory"
    )
    config.add_route(
        "payment_checkout",
        "/payments/{public_id}/checkout",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route(
        "payment_cancel",
        "/payments/{public_id}/cancel",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route(
        "payment_retry",
        "/payments/{public_id}/retry",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route(
        "payment_return",
        "/payments/{public_id}/return",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route("payments", "/payments")
    config.add_route("payments_csv", "/payments.csv")
    config.include("portal.billing.backoffice")
    config.add_navigation_item("bills", _("Your bills"), "account")
    config.add_navigation_item("payments", _("Payments"), "account")
