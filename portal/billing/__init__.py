"""Billing: bills, the double-entry ledger, payments, refunds, deposits and the provider.

This module is billing's front door. Other packages use what it exports (issue and cancel a
bill, a bill's status, pay, refund, hold / release / forfeit a deposit, apply the provider's
report), :mod:`portal.billing.models` for foreign keys and queries, and
:mod:`portal.billing.events` to hear what happened; every other module of the package is
billing's own (import-linter holds everyone to this, see setup.cfg).
"""

import datetime as dt

from pyramid.events import BeforeRender

from portal.billing.approvals import (
    APPROVED,
    AWAITING,
    REJECTED,
    add_approval_kind,
    awaiting_on,
    check_thresholds,
)
from portal.billing.bank_refunds import RefundAccountApproval
from portal.billing.bills import (
    CANCELLED,
    OPEN,
    OVERPAID,
    PAID,
    WRITTEN_OFF,
    BillView,
    cancel_bill,
    issue_bill,
    with_status,
)
from portal.billing.deposits import forfeit_deposit, hold_deposit, release_deposit
from portal.billing.ledger import AlreadyPosted, guard_append_only
from portal.billing.matching import method_text
from portal.billing.payment_documents import PaymentDocument, add_payment_documents
from portal.billing.payments import create_payment, settling_payment, start_payment
from portal.billing.providers import (
    ProviderRefused,
    ProviderUnavailable,
    payment_provider,
    payment_providers,
    providers_from_settings,
)
from portal.billing.reconciliation import announce_discrepancies, format_report, reconcile
from portal.billing.reference import printed
from portal.billing.refunding import (
    RefundApproval,
    carry_out_refund_decision,
    refund_bill,
    refund_bill_as_clerk,
    request_refund,
)
from portal.billing.resources import PaymentContext
from portal.billing.state import IN_PROGRESS as PAYMENT_IN_PROGRESS
from portal.billing.state import REFUND_AWAITING_APPROVAL, REFUND_NOT_APPROVED, REFUNDED_STATES
from portal.billing.statements import import_and_match as import_bank_statement
from portal.billing.surcharges import add_bill_surcharge
from portal.billing.tasks import apply_report
from portal.billing.templating import add_globals
from portal.billing.transfer import transfer_account
from portal.billing.writeoffs import WriteOffApproval
from portal.catalogue.interfaces import BillLineInput
from portal.i18n import _
from portal.web import conflict

__all__ = [
    "import_bank_statement",
    "APPROVED",
    "AWAITING",
    "CANCELLED",
    "OPEN",
    "OVERPAID",
    "PAID",
    "PAYMENT_IN_PROGRESS",
    "REFUNDED_STATES",
    "REFUND_AWAITING_APPROVAL",
    "REFUND_NOT_APPROVED",
    "REJECTED",
    "WRITTEN_OFF",
    "BillLineInput",
    "BillView",
    "PaymentContext",
    "PaymentDocument",
    "ProviderRefused",
    "ProviderUnavailable",
    "announce_discrepancies",
    "apply_report",
    "awaiting_on",
    "carry_out_refund_decision",
    "cancel_bill",
    "create_payment",
    "forfeit_deposit",
    "format_report",
    "hold_deposit",
    "issue_bill",
    "payment_provider",
    "payment_providers",
    "payment_timeout",
    "printed",
    "method_text",
    "reconcile",
    "refund_bill",
    "refund_bill_as_clerk",
    "release_deposit",
    "request_refund",
    "settling_payment",
    "start_payment",
    "with_status",
]


def payment_timeout(settings) -> dt.timedelta:
    return dt.timedelta(minutes=int(settings.get("billing.payment_timeout_minutes", 90)))


def includeme(config) -> None:
    settings = config.get_settings()
    config.add_directive("add_bill_surcharge", add_bill_surcharge)
    guard_append_only(config.registry["dbsession_factory"])
    config.add_directive("add_payment_documents", add_payment_documents)
    check_thresholds(settings)
    config.registry["transfer_account"] = transfer_account(settings)
    config.add_directive("add_approval_kind", add_approval_kind)
    config.add_approval_kind(RefundApproval())
    config.add_approval_kind(RefundAccountApproval())
    config.add_approval_kind(WriteOffApproval())
    config.add_subscriber(add_globals, BeforeRender)
    providers = providers_from_settings(settings)
    config.registry["payment_providers"] = providers
    config.registry["payment_provider"] = providers.default
    for provider in providers.values():
        config.add_form_target(provider.origin)
    config.add_request_method(
        lambda request: payment_provider(request.registry), "payment_provider", reify=True
    )
    # the same business event posted by two requests at once: the loser is told, not a 500
    config.add_exception_view(conflict, context=AlreadyPosted)
    config.add_route("provider_notification", "/billing/notifications/{provider}")
    config.add_route("bills", "/bills")
    config.add_route("pay", "/bills/pay")
    config.add_route("bill_transfer", "/bills/{public_id}/transfer")
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
