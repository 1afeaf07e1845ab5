"""Clerk pages of billing: a department's payments, one payment and its refunds, writing off a
bill, the requests awaiting a second clerk's approval, reconciliation against the provider's
settlement report, reports on collections, refunds and receivables."""


def includeme(config) -> None:
    department = {"factory": "portal.identity.departments.department_factory"}
    payment = {"factory": "portal.billing.resources.payment_factory"}
    approval = {"factory": "portal.billing.resources.approval_factory"}
    config.add_route(
        "backoffice_department_payments", "/backoffice/departments/{code}/payments", **department
    )
    config.add_route("backoffice_payment", "/backoffice/payments/{public_id}", **payment)
    config.add_route(
        "backoffice_payment_refund_confirm",
        "/backoffice/payments/{public_id}/refunds/confirm",
        **payment,
    )
    config.add_route(
        "backoffice_payment_refunds", "/backoffice/payments/{public_id}/refunds", **payment
    )
    config.add_route(
        "backoffice_department_write_off", "/backoffice/departments/{code}/write-off", **department
    )
    config.add_route(
        "backoffice_bill_write_off",
        "/backoffice/bills/{bill}/write-off",
        factory="portal.billing.resources.department_bill_factory",
    )
    config.add_route("backoffice_approvals", "/backoffice/approvals")
    config.add_route("backoffice_approval", "/backoffice/approvals/{approval}", **approval)
    config.add_route(
        "backoffice_approval_approve", "/backoffice/approvals/{approval}/approve", **approval
    )
    config.add_route(
        "backoffice_approval_reject", "/backoffice/approvals/{approval}/reject", **approval
    )
    config.add_route(
        "backoffice_approval_withdraw", "/backoffice/approvals/{approval}/withdraw", **approval
    )
    config.add_route("api_approval_decision", "/api/v1/approvals/{approval}/decision", **approval)
    config.add_route("backoffice_reconciliation", "/backoffice/reconciliation")
    config.add_route(
        "backoffice_bank_statements", "/backoffice/departments/{code}/bank-statements", **department
    )
    config.add_route(
        "api_bank_statements",
        "/api/v1/departments/{code}/bank-statements",
        factory="portal.billing.backoffice.statements.statement_import_factory",
    )
    config.add_route(
        "backoffice_bank_line",
        "/backoffice/bank-lines/{line}",
        factory="portal.billing.backoffice.bank_lines.bank_line_factory",
    )
    config.add_route(
        "backoffice_bank_refunds", "/backoffice/departments/{code}/bank-refunds", **department
    )
    config.add_route(
        "backoffice_refund_transfer_file",
        "/backoffice/refund-transfer-files/{file}.xml",
        factory="portal.billing.backoffice.bank_refunds.transfer_file_factory",
    )
    config.add_route(
        "backoffice_refund_bank",
        "/backoffice/refunds/{refund}/bank",
        factory="portal.billing.backoffice.bank_refunds.refund_factory",
    )
    config.add_route("backoffice_reports", "/backoffice/reports")
    # the file first: "collections.csv" would also be a report's name
    config.add_route("backoffice_report_file", "/backoffice/reports/{report}.{format}")
    config.add_route("backoffice_report", "/backoffice/reports/{report}")
