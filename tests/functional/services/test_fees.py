"""Fee schedules: prices with effective dates, edited by administrators; issued bills keep
the amounts they were issued with."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.billing import BillLineInput, issue_bill
from portal.catalogue.models import Service
from portal.money import Money
from portal.services.fees import FeeNotFound, fee_for, schedule_in_force
from portal.services.models import FeeScheduleEntry
from tests.functional.services.conftest import today

SAME_ORIGIN = {"Referer": "https://localhost/admin/fees"}
JAN = dt.date(2026, 1, 1)
JUL = dt.date(2026, 7, 1)


def price(service, item, amount, since, label=None):
    return FeeScheduleEntry(
        service_code=service,
        item_code=item,
        label=label or f"{item} from {since}",
        amount_minor=amount,
        currency="EUR",
        effective_from=since,
    )


@pytest.fixture
def car_prices(dbsession):
    dbsession.add_all(
        [
            price("vehicle-registration", "passenger-car", 40_00, JAN),
            price("vehicle-registration", "passenger-car", 45_00, JUL),
            price("vehicle-registration", "truck", 120_00, JAN),
            price("business-licence", "licence", 250_00, JUL),
        ]
    )
    dbsession.commit()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 6, 30), 40_00),  # the day before the change
        (JUL, 45_00),  # in force from its first day
        (dt.date(2027, 3, 1), 45_00),
    ],
)
def test_the_price_in_force_is_the_latest_started_one(dbsession, car_prices, day, expected):
    assert fee_for(dbsession, "vehicle-registration", "passenger-car", day) == Money(
        expected, "EUR"
    )


def test_no_price_before_the_first_one_or_for_an_unknown_item(dbsession, car_prices):
    with pytest.raises(FeeNotFound):
        fee_for(dbsession, "vehicle-registration", "passenger-car", dt.date(2025, 12, 31))
    with pytest.raises(FeeNotFound):
        fee_for(dbsession, "vehicle-registration", "tractor", JUL)


def test_the_schedule_in_force_has_one_entry_per_item(dbsession, car_prices):
    entries = schedule_in_force(dbsession, "vehicle-registration", dt.date(2026, 8, 1))
    assert [(e.item_code, e.amount_minor) for e in entries] == [
        ("passenger-car", 45_00),
        ("truck", 120_00),
    ]


def fees_form(app):
    return app.get("/admin/fees").forms["fee-form"]


def entries(dbsession):
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(FeeScheduleEntry))


def test_an_administrator_sets_a_new_price_that_only_new_bills_get(
    signed_in, dbsession, services, car_prices
):
    """Bills copy amounts when issued: a new price changes bills issued afterwards only."""
    from tests import factories

    payer = factories.user(dbsession, name_id="citizen-ben")
    service = dbsession.scalar(select(Service).where(Service.code == "vehicle-registration"))
    starts = today()

    def registration_bill(number):
        amount = fee_for(dbsession, "vehicle-registration", "passenger-car", starts)
        return issue_bill(
            dbsession,
            service=service,
            number=number,
            description="Vehicle registration",
            due_date=starts,
            lines=[BillLineInput("Passenger car", amount)],
            payer_user=payer,
        )

    before = registration_bill("VR-1")
    dbsession.commit()
    assert before.total_minor == 45_00

    app = signed_in("admin-ada")
    form = fees_form(app)
    form["service_code"] = "vehicle-registration"
    form["item_code"] = "passenger-car"
    form["label"] = "Passenger car registration"
    form["amount"] = "52.30"
    type_day(form, starts)
    response = form.submit(status=303)
    assert "Passenger car registration" in response.follow().text

    dbsession.expire_all()
    assert fee_for(dbsession, "vehicle-registration", "passenger-car", starts).minor == 52_30
    after = registration_bill("VR-2")
    dbsession.commit()
    dbsession.refresh(before)
    assert (before.total_minor, before.lines[0].amount_minor) == (45_00, 45_00)
    assert after.total_minor == 52_30


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "12.345", "Write the amount as a number such as 12.50."),
        ("amount", "-5", "The amount must be more than zero."),
        ("amount", "free", "Write the amount as a number such as 12.50."),
        ("item_code", "Passenger Car!", "The item code is 1 to 64"),
        ("label", "   ", "Give the item a label."),
        ("effective_from", "2020-01-01", "bills already issued keep their amounts"),
    ],
)
def test_a_bad_price_is_refused_with_a_clear_message_and_changes_nothing(
    signed_in, dbsession, services, car_prices, field, value, message
):
    app = signed_in("admin-ada")
    form = fees_form(app)
    values = {
        "service_code": "vehicle-registration",
        "item_code": "passenger-car",
        "label": "Passenger car",
        "amount": "50.00",
    }
    for name, text in values.items():
        form[name] = text
    type_day(form, today() + dt.timedelta(days=10))
    if field == "effective_from":
        type_day(form, dt.date.fromisoformat(value))
    else:
        form[field] = value
    count = entries(dbsession)
    page = form.submit(status=422)
    assert "There is a problem" in page.text and message in page.text
    assert entries(dbsession) == count


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [("30", "2", "2030"), ("", "", ""), ("1", "13", "2030"), ("1", "1", "30"), ("x", "1", "2030")],
)
def test_a_start_day_that_is_no_date_is_shown_again_at_its_field(
    signed_in, dbsession, services, car_prices, day, month, year
):
    app = signed_in("admin-ada")
    form = fees_form(app)
    form["service_code"] = "vehicle-registration"
    form["item_code"] = "passenger-car"
    form["label"] = "Passenger car"
    form["amount"] = "50.00"
    form["effective_from-day"], form["effective_from-month"] = day, month
    form["effective_from-year"] = year
    count = entries(dbsession)

    page = form.submit(status=422)

    message = page.html.find(id="effective_from-error")
    assert message.text.startswith("Enter a real date")
    assert "usa-input--error" in page.html.find(id="effective_from-day")["class"]
    again = page.forms["fee-form"]
    # shown again as typed (a digit may gain a leading zero)
    assert again["effective_from-day"].value.lstrip("0") == day
    assert again["effective_from-year"].value == year
    assert again["amount"].value == "50.00"
    assert entries(dbsession) == count


def type_day(form, day: dt.date) -> None:
    """Type ``day`` into the fee form's memorable date, as a person would: no leading zeros."""
    form["effective_from-day"] = str(day.day)
    form["effective_from-month"] = str(day.month)
    form["effective_from-year"] = str(day.year)


def test_an_unknown_service_is_refused(signed_in, dbsession, services):
    app = signed_in("admin-ada")
    token = fees_form(app)["csrf_token"].value
    page = app.post(
        "/admin/fees",
        {
            "csrf_token": token,
            "service_code": "no-such-service",
            "item_code": "x",
            "label": "X",
            "amount": "1.00",
            "currency": "EUR",
            "effective_from": today().isoformat(),
        },
        headers=SAME_ORIGIN,
        status=422,
    )
    assert "Choose a service from the list." in page.text
    assert entries(dbsession) == 0


def test_changing_fees_needs_the_csrf_token(signed_in, dbsession, services):
    app = signed_in("admin-ada")
    app.post(
        "/admin/fees",
        {
            "service_code": "water",
            "item_code": "network",
            "label": "Network",
            "amount": "1.00",
            "currency": "EUR",
            "effective_from": today().isoformat(),
        },
        headers=SAME_ORIGIN,
        status=400,
    )
    assert entries(dbsession) == 0


@pytest.mark.parametrize("persona", ["citizen-ana", "clerk-clara"])
def test_only_administrators_edit_fees(signed_in, persona, services):
    app = signed_in(persona)
    app.get("/admin/fees", status=403)


def test_a_scheduled_price_can_be_withdrawn_but_not_one_in_force(
    signed_in, dbsession, services, car_prices
):
    scheduled = price("business-licence", "licence", 300_00, today() + dt.timedelta(days=30))
    dbsession.add(scheduled)
    dbsession.commit()
    app = signed_in("admin-ada")
    page = app.get("/admin/fees")
    withdraw = next(f for f in page.forms.values() if "entry" in f.fields)
    withdraw.submit("entry", status=303)
    assert (
        dbsession.scalar(select(FeeScheduleEntry).where(FeeScheduleEntry.amount_minor == 300_00))
        is None
    )

    in_force = dbsession.scalar(
        select(FeeScheduleEntry.id).where(FeeScheduleEntry.effective_from == JAN)
    )
    token = page.forms[0]["csrf_token"].value
    refused = app.post(
        "/admin/fees/withdraw",
        {"csrf_token": token, "entry": in_force},
        headers=SAME_ORIGIN,
        status=409,
    )
    assert "A price already in force cannot be withdrawn." in refused.text
    dbsession.expire_all()
    assert dbsession.get(FeeScheduleEntry, in_force) is not None
