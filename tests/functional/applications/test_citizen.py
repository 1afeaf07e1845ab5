"""A citizen applies: per-field validation, drafts kept and continued, the fee from the
schedule, and paying it through the sandbox puts the application in the clerk's queue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal.applications.models import Application
from portal.billing import ledger
from portal.billing.models import Bill
from tests.functional.applications.conftest import (
    VEHICLE,
    apply,
    fill,
    pay,
    post,
    the_application,
)


def count(dbsession, model) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(model))


def test_invalid_answers_are_refused_field_by_field_and_nothing_is_saved(citizen, dbsession):
    form = citizen.get("/applications/new/vehicle-registration").forms["application-form"]
    empty = form.submit("action", value="submit", status=422)
    assert 'id="category-error"' in empty.text and "Choose one." in empty.text
    assert 'id="vin-error"' in empty.text and "Fill this in." in empty.text

    form = empty.forms["application-form"]
    fill(
        form,
        {
            "category": "truck",
            "vin": "WDB96340311O23456",  # has an O
            "make_model": "Actros",
            "first_registered": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
        },
    )
    wrong = form.submit("action", value="submit", status=422)
    assert "A VIN is 17 letters and digits, without the letters I, O and Q." in wrong.text
    assert "This date cannot be in the future." in wrong.text
    assert 'id="category-error"' not in wrong.text
    # what was typed is shown again, escaped
    assert wrong.forms["application-form"]["make_model"].value == "Actros"

    form = wrong.forms["application-form"]
    form["category"].force_value("spaceship")
    fill(form, {"first_registered": "2024-02-30"})
    again = form.submit("action", value="submit", status=422)
    assert "Choose one of the options." in again.text
    assert "Enter a real date: the day, the month and the year" in again.text
    # shown again as typed, in its three boxes
    boxes = again.forms["application-form"]
    assert [boxes[f"first_registered-{part}"].value for part in ("day", "month", "year")] == [
        "30",
        "02",
        "2024",
    ]

    assert count(dbsession, Application) == 0
    assert count(dbsession, Bill) == 0


def test_a_date_is_checked_against_the_portals_day_not_utcs(citizen, dbsession, clock):
    """At 23:30 UTC it is already the next day in Ljubljana: a vehicle first registered that
    day was registered today, not in the future."""
    utc_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    clock.set(dt.datetime.combine(utc_day, dt.time(23, 30), dt.UTC))
    portal_day = utc_day + dt.timedelta(days=1)
    apply(citizen, {**VEHICLE, "first_registered": portal_day.isoformat()})
    form = citizen.get("/applications/new/vehicle-registration").forms["application-form"]
    fill(form, {**VEHICLE, "first_registered": (portal_day + dt.timedelta(days=1)).isoformat()})
    refused = form.submit("action", value="submit", status=422)
    assert "This date cannot be in the future." in refused.text


def test_unknown_service_is_not_found(citizen):
    citizen.get("/applications/new/property-tax", status=404)
    citizen.get("/applications/new/no-such-thing", status=404)


def test_submitting_shows_the_fee_in_force_and_a_bill_to_pay(citizen, dbsession):
    public_id = apply(citizen)
    application = the_application(dbsession, public_id)
    assert application.status == "awaiting_payment"
    assert application.form["vin"] == "WDB9634031L123456"
    # the truck's price in force today, not the one decided for later
    assert (application.bill.total_minor, application.bill.payer_user_id) == (
        120_00,
        application.applicant_id,
    )
    page = citizen.get(f"/applications/{public_id}")
    assert "Submitted, awaiting payment" in page.text
    assert "€120.00" in page.text and "Vehicle registration: Truck" in page.text
    assert "pay-form" in page.text
    history = page.html.find(id="history").text
    assert "Draft saved" in history and "Submitted; the fee is to be paid" in history


def test_the_fee_depends_on_what_is_asked(citizen, dbsession):
    apply(citizen, dict(VEHICLE, category="motorcycle"))
    copies = {
        "record": "birth",
        "person": "Ana Novak",
        "event_date": "1980-01-01",
        "place": "Ljubljana",
        "copies": "3",
    }
    apply(citizen, copies, "civil-status-copy")
    dbsession.expire_all()
    totals = sorted(b.total_minor for b in dbsession.scalars(select(Bill)))
    assert totals == [25_00, 3 * 8_50]


def test_copies_are_bounded(citizen):
    form = citizen.get("/applications/new/civil-status-copy").forms["application-form"]
    fill(
        form,
        {
            "record": "death",
            "person": "X",
            "event_date": "2020-01-01",
            "place": "Y",
            "copies": "11",
        },
    )
    page = form.submit("action", value="submit", status=422)
    assert "At most 10 copies can be ordered at once." in page.text
    form = page.forms["application-form"]
    form["copies"] = "-1"
    negative = form.submit("action", value="submit", status=422)
    assert "Enter a whole number from 1 to 999." in negative
    for digits in ("²", "٣"):  # digits to str.isdigit, yet not to int() or to a person
        form = negative.forms["application-form"]
        form["copies"] = digits
        other = form.submit("action", value="submit", status=422)
        assert "Enter a whole number from 1 to 999." in other


def test_a_draft_is_kept_and_continued_later(citizen, dbsession):
    form = citizen.get("/applications/new/vehicle-registration").forms["application-form"]
    form["category"] = "passenger-car"
    form["make_model"] = "Škoda Octavia"
    saved = form.submit("action", value="save", status=303)
    assert saved.location.endswith("/applications")
    listing = saved.follow()
    assert "Draft saved" in listing.text
    drafts = listing.html.find(id="drafts")
    assert "Vehicle registration" in drafts.text
    application = the_application(dbsession)
    assert (application.status, application.bill_id) == ("draft", None)

    # later: the form comes back as it was left
    link = drafts.find("a")["href"]
    form = citizen.get(link).forms["application-form"]
    assert form["category"].value == "passenger-car"
    assert form["make_model"].value == "Škoda Octavia"
    assert form["vin"].value == ""

    # an incomplete submission keeps the draft as it was saved
    form["make_model"] = "Changed"
    form.submit("action", value="submit", status=422)
    assert the_application(dbsession).form["make_model"] == "Škoda Octavia"

    fill(form, {"vin": "TMBJJ7NE5L0123456", "first_registered": "2020-02-02"})
    done = form.submit("action", value="submit", status=303)
    application = the_application(dbsession)
    assert done.location.endswith(f"/applications/{application.public_id}")
    assert application.status == "awaiting_payment"
    assert application.bill.total_minor == 45_00
    # once submitted it can no longer change
    assert citizen.get(link, status=303).location.endswith(application.public_id)
    assert count(dbsession, Application) == 1


def test_a_draft_with_an_overlong_answer_is_refused(citizen, dbsession):
    form = citizen.get("/applications/new/vehicle-registration").forms["application-form"]
    form["make_model"] = "x" * 101
    page = form.submit("action", value="save", status=422)
    assert "Keep this under 101 characters." in page.text
    assert count(dbsession, Application) == 0


def test_someone_else_cannot_see_or_continue_a_draft(citizen, browser, dbsession):
    form = citizen.get("/applications/new/business-licence").forms["application-form"]
    form["business_name"] = "Ana's Bakery"
    form.submit("action", value="save", status=303)
    public_id = the_application(dbsession).public_id
    ben = browser("citizen-ben")
    ben.get(f"/applications/{public_id}", status=403)
    ben.get(f"/applications/{public_id}/edit", status=403)
    assert "Ana&#39;s Bakery" not in ben.get("/applications").text


def test_paying_the_fee_puts_the_application_in_the_queue(citizen, sandbox, dbsession):
    public_id = apply(citizen)
    pay(citizen, sandbox, dbsession, public_id)
    application = the_application(dbsession, public_id)
    assert ledger.bill_balances(dbsession, [application.bill_id]) == {application.bill_id: 0}
    page = citizen.get(f"/applications/{public_id}")
    assert "Paid, waiting for a clerk" in page.text
    assert "pay-form" not in page.text
    assert "in the clerk's queue" in page.html.find(id="history").text
    assert the_application(dbsession, public_id).status == "in_queue"
    # nothing left to pay: a second payment is refused
    post(citizen, f"/applications/{public_id}/pay", {"idempotency_key": "k" * 20}, status=409)
