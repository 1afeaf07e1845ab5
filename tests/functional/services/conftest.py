"""Services as people meet them: the catalogue, administrators' fees, clerks' imports,
citizens' taxes and utility accounts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal.billing.models import Bill
from portal.identity.models import User
from portal.services.catalogue import sync_services

ANA_NATIONAL_ID = "19800101-1234"
BEN_NATIONAL_ID = "19750505-5678"


@pytest.fixture
def services(wsgi_app, dbsession, departments):
    """The service rows, as ``portal-sync-services`` makes them."""
    sync_services(dbsession, wsgi_app.registry)
    dbsession.commit()


def citizen(dbsession, wsgi_app, name_id, national_id, given_name):
    """A person as the portal knows them after a sign-in (national id as a keyed hash)."""
    user = dbsession.scalar(select(User).where(User.name_id == name_id))
    if user is None:
        user = User(
            idp_entity_id="https://idp.test/metadata",
            name_id=name_id,
            given_name=given_name,
            family_name="Test",
        )
        dbsession.add(user)
    user.national_id_hash = wsgi_app.registry["pii_vault"].lookup_hash(national_id)
    dbsession.commit()
    return user


@pytest.fixture
def ana(dbsession, wsgi_app, services):
    return citizen(dbsession, wsgi_app, "citizen-ana", ANA_NATIONAL_ID, "Ana")


@pytest.fixture
def ben(dbsession, wsgi_app, services):
    return citizen(dbsession, wsgi_app, "citizen-ben", BEN_NATIONAL_ID, "Ben")


def bill_count(dbsession) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(Bill))


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def upload(app, service, data: bytes, status=303):
    """Submit the import page's form as a clerk's browser does."""
    form = app.get("/backoffice/imports").forms["import-form"]
    form["service"] = service
    form["file"] = ("bills.csv", data, "text/csv")
    return form.submit(status=status)


def today() -> dt.date:
    """The portal's today (its time zone is Europe/Ljubljana in the tests' settings)."""
    return dt.datetime.now(ZoneInfo("Europe/Ljubljana")).date()


def days_ago(days: int) -> dt.date:
    return today() - dt.timedelta(days=days)
