"""Reading the three boxes of a memorable date."""

import datetime as dt

import pytest

from portal.dates import as_text, date_of, iso_date
from portal.refusals import Refusal


@pytest.mark.parametrize(
    ("day", "month", "year", "expected"),
    [
        ("31", "3", "2026", dt.date(2026, 3, 31)),
        ("01", "03", "2026", dt.date(2026, 3, 1)),
        ("29", "2", "2024", dt.date(2024, 2, 29)),
        ("1", "1", "1900", dt.date(1900, 1, 1)),
    ],
)
def test_the_three_boxes_make_the_date_they_say(day, month, year, expected):
    assert date_of(day, month, year) == expected


@pytest.mark.parametrize(
    ("day", "month", "year"),
    [
        ("29", "2", "2026"),  # not a leap year
        ("31", "4", "2026"),
        ("0", "3", "2026"),
        ("1", "13", "2026"),
        ("1", "3", "26"),  # the year in four digits
        ("1", "3", "02026"),
        ("", "3", "2026"),
        ("x", "3", "2026"),
        ("١", "3", "2026"),  # a digit to str.isdigit, not to a person
        ("-1", "3", "2026"),
        ("1", "1", "1899"),
        ("31", "12", "9999"),
        ("1" * 50, "3", "2026"),
    ],
)
def test_anything_else_is_refused_with_how_to_write_it(day, month, year):
    with pytest.raises(Refusal):
        date_of(day, month, year)


def test_a_kept_answer_is_read_back():
    assert iso_date("2026-03-31") == dt.date(2026, 3, 31)
    for text in ("2026-02-30", "31.3.2026", "20260331", "", "2026-3"):
        with pytest.raises(Refusal):
            iso_date(text)


@pytest.mark.parametrize(
    ("parts", "kept"),
    [
        ({"day": "7", "month": "3", "year": "2026"}, "2026-03-07"),
        ({"day": "", "month": "", "year": ""}, ""),
        ({"day": "x", "month": "3", "year": "2026"}, "2026-3-x"),
        ({"day": "1-2", "month": "3", "year": "2026"}, "2026-3-1 2"),
    ],
)
def test_the_boxes_are_kept_as_one_answer_that_splits_back_into_them(parts, kept):
    assert as_text(parts) == kept


def test_a_hyphen_typed_in_a_box_does_not_make_another_date():
    with pytest.raises(Refusal):
        iso_date(as_text({"day": "1-2", "month": "3", "year": "2026"}))
