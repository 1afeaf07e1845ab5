"""Dates are typed in three boxes (day, month, year) everywhere, never a browser's date picker,
whose order (mm/dd/yyyy in many browsers) no label can change."""

from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_page_uses_the_browsers_date_picker():
    pickers = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.jinja2")
        if 'type="date"' in path.read_text()
    ]
    assert pickers == []


@pytest.fixture
def payer(signed_in):
    return signed_in("citizen-ana")


def filters(page):
    return next(form for form in page.forms.values() if "from-day" in form.fields)


def test_the_payment_history_is_filtered_by_days_typed_in_boxes(payer):
    form = filters(payer.get("/payments"))
    assert {"from-day", "from-month", "from-year", "to-day", "to-month", "to-year"} <= set(
        form.fields
    )
    form["from-day"], form["from-month"], form["from-year"] = "1", "3", "2026"
    page = form.submit()
    assert page.status_int == 200
    csv_link = page.html.find("a", string="Download as CSV")["href"]
    assert "from=2026-03-01" in csv_link
    boxes = filters(page)
    assert (boxes["from-day"].value, boxes["from-month"].value) == ("01", "03")


def test_a_day_that_is_not_a_date_is_refused_plainly(payer):
    page = payer.get(
        "/payments", params={"to-day": "31", "to-month": "2", "to-year": "2026"}, status=400
    )
    assert "Enter a real date: the day, the month and the year in four digits" in page.text
