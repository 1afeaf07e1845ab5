"""Clerk pages of billing: a department's payments, one payment and its refunds, reconciliation
against the provider's settlement report, reports on collections, refunds and receivables."""


def includeme(config) -> None:
    config.add_route(
        "backoffice_department_payments",
        "/backoffice/departments/{code}/payments",
        factory="portal.identity.departments.department_factory",
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
    config.add_route("backoffice_reports", "/backoffice/reports")
    # the file first: "collections.csv" would also be a report's name
    config.add_route("backoffice_report_file", "/backoffice/reports/{report}.{format}")
    config.add_route("backoffice_report", "/backoffice/reports/{report}")
