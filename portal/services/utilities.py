"""Utility accounts: a person's customer number with a utility company, and its bills."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.billing import BillView, with_status
from portal.billing.models import Bill
from portal.catalogue.interfaces import UTILITY, public_services
from portal.catalogue.models import Service
from portal.i18n import _
from portal.refusals import CONFLICT, Refusal
from portal.services.models import UtilityAccount, UtilityBill


def utility_account(dbsession, service: Service, customer_number: str) -> UtilityAccount | None:
    return dbsession.scalar(
        select(UtilityAccount).where(
            UtilityAccount.service_id == service.id,
            UtilityAccount.customer_number == customer_number,
        )
    )


def open_account(dbsession, service: Service, customer_number: str, payer_user) -> UtilityAccount:
    """The account ``customer_number`` of ``service``, made for ``payer_user`` if new."""
    account = utility_account(dbsession, service, customer_number)
    if account is None:
        account = UtilityAccount(
            service=service, customer_number=customer_number, payer_user=payer_user
        )
        dbsession.add(account)
        dbsession.flush()
    elif account.payer_user_id != payer_user.id:
        raise Refusal(CONFLICT, _("This customer number belongs to another person."))
    return account


def record_utility_bill(dbsession, bill: Bill, customer_number: str) -> UtilityAccount:
    """Note that ``bill`` (of a person) was issued on account ``customer_number``, opening the
    account for the bill's payer if it is new. For the API and the CSV import alike."""
    account = open_account(dbsession, bill.service, customer_number, bill.payer_user)
    dbsession.add(UtilityBill(bill_id=bill.id, utility_account_id=account.id))
    dbsession.flush()
    return account


@dataclass(frozen=True)
class AccountView:
    account: UtilityAccount | None
    service: Service
    bills: list[BillView]


def accounts_of(dbsession, registry, user, limit: int = 24) -> list[AccountView]:
    """The person's utility accounts with their latest bills, and, per utility service, the
    bills that came without a customer number."""
    accounts = list(
        dbsession.scalars(
            select(UtilityAccount)
            .join(Service)
            .where(UtilityAccount.payer_user_id == user.id)
            .order_by(Service.name, UtilityAccount.customer_number)
        )
    )
    views = []
    for account in accounts:
        bills = dbsession.scalars(
            select(Bill)
            .join(UtilityBill, UtilityBill.bill_id == Bill.id)
            .where(UtilityBill.utility_account_id == account.id)
            .order_by(Bill.due_date.desc(), Bill.id.desc())
            .limit(limit)
        )
        views.append(AccountView(account, account.service, with_status(dbsession, list(bills))))
    utility_codes = [
        code for code, plugin in public_services(registry).items() if plugin.info.kind == UTILITY
    ]
    loose = list(
        dbsession.scalars(
            select(Bill)
            .join(Service)
            .outerjoin(UtilityBill, UtilityBill.bill_id == Bill.id)
            .where(
                Bill.payer_user_id == user.id,
                Service.code.in_(utility_codes),
                UtilityBill.bill_id.is_(None),
            )
            .order_by(Service.name, Bill.due_date.desc(), Bill.id.desc())
            .limit(limit)
        )
    )
    by_service: dict[int, list[Bill]] = {}
    for bill in loose:
        by_service.setdefault(bill.service_id, []).append(bill)
    for bills in by_service.values():
        views.append(AccountView(None, bills[0].service, with_status(dbsession, bills)))
    return views
