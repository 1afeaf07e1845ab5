"""The back office: clerks' work, by department (queues, refunds, reconciliation, reports)."""

from portal.i18n import _


def includeme(config) -> None:
    config.add_route("backoffice", "/backoffice")
    config.add_route(
        "backoffice_department",
        "/backoffice/departments/{code}",
        factory="portal.backoffice.resources.department_factory",
    )
    config.add_route(
        "backoffice_department_payments",
        "/backoffice/departments/{code}/payments",
        factory="portal.backoffice.resources.department_factory",
    )
    config.add_route(
        "backoffice_payment",
        "/backoffice/payments/{public_id}",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route(
        "backoffice_payment_refund_confirm",
        "/backoffice/payments/{public_id}/refunds/confirm",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route(
        "backoffice_payment_refunds",
        "/backoffice/payments/{public_id}/refunds",
        factory="portal.billing.resources.payment_factory",
    )
    config.add_route("backoffice_reconciliation", "/backoffice/reconciliation")
    config.add_navigation_item("backoffice", _("Back office"), "backoffice")
