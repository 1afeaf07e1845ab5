"""Documents are numbered per series and fiscal year, the year being the one on the portal's
calendar (Europe/Ljubljana in the tests), not UTC's."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.documents.numbering import fiscal_year
from portal.receipts.models import Receipt
from tests import factories

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        (dt.datetime(2026, 12, 31, 22, 59, tzinfo=dt.UTC), 2026),  # 23:59 local
        (dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC), 2027),  # 00:30 local, 1 January
        (dt.datetime(2027, 6, 30, 22, 30, tzinfo=dt.UTC), 2027),  # summer time: 00:30 local
    ],
)
def test_the_fiscal_year_is_the_local_calendar_year(moment, year):
    assert fiscal_year(moment, LJUBLJANA) == year


def issue_at(clock, wsgi_app, dbsession, payment, moment: dt.datetime) -> Receipt:
    clock.set(moment)
    return document_issuer(wsgi_app.registry).record(
        dbsession,
        Receipt(
            payment=payment,
            owner=payment.payer_user,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
        ),
        clock.now(),
    )


def test_a_document_issued_half_past_midnight_on_new_years_day_opens_the_new_year(
    clock, wsgi_app, dbsession
):
    payer = factories.user(dbsession)
    payments = [
        factories.payment(dbsession, payer, [factories.bill(dbsession, payer)]) for _ in range(4)
    ]
    moments = [
        dt.datetime(2026, 12, 31, 22, 45, tzinfo=dt.UTC),  # 23:45 on 31 December, local
        dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC),  # 00:30 on 1 January, local
        dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 22, 50, tzinfo=dt.UTC),  # issued late, numbered in 2026
    ]
    numbers = [
        issue_at(clock, wsgi_app, dbsession, payment, moment).number
        for payment, moment in zip(payments, moments, strict=True)
    ]
    assert numbers == ["R-2026-000001", "R-2027-000001", "R-2027-000002", "R-2026-000002"]
    dbsession.commit()
    dbsession.expire_all()
    new_year = dbsession.scalars(select(Receipt).where(Receipt.number == "R-2027-000001")).one()
    assert new_year.fiscal_year == 2027
    assert new_year.issued_at.astimezone(dt.UTC).date() == dt.date(2026, 12, 31)
