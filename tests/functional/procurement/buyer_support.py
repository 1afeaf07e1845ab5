"""What the buyer's tests share: the procurement department, Bruno signed in, and filling
the draft form the way a buyer does."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.procurement.models import Tender
from tests import factories

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


@pytest.fixture
def procurement(dbsession, departments):
    """The procurement department, beside the fixture's others, so that the IdP's
    ``buyer:procurement`` and ``clerk:procurement`` groups find it."""
    made = factories.department(dbsession, "procurement", "Public Procurement Office")
    dbsession.commit()
    return made


#: where the buyer's tests start: a few weeks before the clocks change in 2027
START = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def bruno(signed_in, procurement, clock):
    """Bruno signed in at :data:`START` (a test that jumps days ahead signs in again)."""
    clock.set(START)
    return signed_in("buyer-bruno")


@pytest.fixture
def committee(dbsession, procurement):
    """Three clerks with committee keys and one (Dan) without."""
    members = [
        factories.committee_member(dbsession, name_id)
        for name_id in ("clerk-clara", "clerk-mia", "clerk-zoe")
    ]
    dan = factories.user(dbsession, "clerk-dan")
    dan.given_name, dan.family_name = "Dan", "Kralj"
    dan.departments = [procurement]
    for member, (given, family) in zip(
        members, [("Clara", "Zupan"), ("Mia", "Kos"), ("Zoe", "Hrib")], strict=True
    ):
        member.given_name, member.family_name = given, family
    dbsession.commit()
    return [*members, dan]


def start_tender(app, title="Road resurfacing, Main Street"):
    """Start a draft from the list page; returns the edit page it leads to."""
    form = app.get("/procurement/tenders").forms["new-tender"]
    form["title"] = title
    response = form.submit(status=303)
    return app.get(response.location, status=200)


def tender_of(dbsession, reference: str) -> Tender:
    dbsession.expire_all()
    return dbsession.scalar(select(Tender).where(Tender.reference == reference))


def set_local(form, name: str, day: dt.date, time: str) -> None:
    form[f"{name}-day"] = str(day.day)
    form[f"{name}-month"] = str(day.month)
    form[f"{name}-year"] = str(day.year)
    form[f"{name}-time"] = time


def fill_complete(form, members, start: dt.date, threshold="2") -> None:
    """A complete draft: one item, lowest price, periods from ``start``, ``members``."""
    form["description"] = "Resurfacing of 1.2 km of Main Street."
    form["estimated_value"] = "250,000.00"
    form["bid_fee"] = "50"
    form["deposit"] = "1,000.00"
    form["item-1-description"] = "Asphalt resurfacing"
    form["item-1-cpv"] = "45233252-0"
    form["item-1-quantity"] = "8400"
    form["item-1-unit"] = "m²"
    set_local(form, "questions_until", start + dt.timedelta(days=5), "12:00")
    set_local(form, "bids_until", start + dt.timedelta(days=10), "10:00")
    set_local(form, "opening_at", start + dt.timedelta(days=10), "12:00")
    for member in members:
        form.get("committee", index=committee_index(form, str(member.id))).checked = True
    form["committee_threshold"] = threshold


def committee_index(form, value: str) -> int:
    for index, field in enumerate(form.fields["committee"]):
        if field._value == value:
            return index
    raise AssertionError(f"no committee checkbox for user {value}")
