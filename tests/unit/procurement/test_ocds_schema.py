"""The project's OCDS 1.1 schema refuses what the standard refuses, and gives ocdsmerge the
standard's merge rules."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from portal.procurement.ocds.releases import main_category, stamp
from portal.procurement.ocds.schemas import RELEASE, compile_releases, merger
from tests.functional.procurement.ocds_support import errors

RELEASE_OK = {
    "ocid": "ocds-000000-T-2027-000012",
    "id": "ocds-000000-T-2027-000012-tender-1",
    "date": "2027-01-05T09:00:00Z",
    "tag": ["tender"],
    "initiationType": "tender",
    "buyer": {"id": "department-procurement", "name": "Public Procurement Office"},
    "tender": {
        "id": "T-2027-000012",
        "status": "active",
        "value": {"amount": 250000.5, "currency": "EUR"},
        "items": [{"id": "1", "classification": {"scheme": "CPV", "id": "45233252-0"}}],
        "tenderPeriod": {"startDate": "2027-01-05T09:00:00Z", "endDate": "2027-01-15T10:00:00Z"},
    },
}


def test_a_well_formed_release_is_valid():
    assert errors(RELEASE_OK, RELEASE) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("ocid",), "T-2027-000012"),
        (("tag",), ["tendered"]),
        (("tag",), []),
        (("date",), "5 January 2027"),
        (("initiationType",), "auction"),
        (("tender", "status"), "evaluation"),
        (("tender", "value", "amount"), "250000.50"),
        (("tender", "value", "currency"), "euro"),
        (("tender", "items", 0, "classification", "scheme"), "UNSPSC"),
        (("tender", "tenderPeriod", "endDate"), "2027-01-15"),
        (("tender", "bids"), [{"value": 1}]),
    ],
)
def test_what_the_standard_refuses_is_refused(path, value):
    release = copy.deepcopy(RELEASE_OK)
    target = release
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert errors(release, RELEASE) != []


def test_required_fields_are_required():
    for name in ("ocid", "id", "date", "tag", "initiationType"):
        release = {key: value for key, value in RELEASE_OK.items() if key != name}
        assert errors(release, RELEASE) != [], name


def test_merge_rules_come_from_the_schema():
    rules = merger().merge_rules
    assert rules[("tender", "items")] == "wholeListMerge"
    assert rules[("tender", "documents")] == "wholeListMerge"
    assert rules[("tag",)] == "omitWhenMerged"


def test_a_later_release_replaces_the_items_and_merges_awards_by_id():
    later = {
        **RELEASE_OK,
        "id": "ocds-000000-T-2027-000012-tender-2",
        "date": "2027-01-06T09:00:00Z",
        "tag": ["tenderAmendment"],
        "tender": {"id": "T-2027-000012", "items": [{"id": "2", "description": "Kerbs"}]},
        "awards": [{"id": "a1", "status": "pending"}],
    }
    cancelled = {
        **{key: value for key, value in RELEASE_OK.items() if key != "tender"},
        "id": "ocds-000000-T-2027-000012-award-a1-cancelled",
        "date": "2027-01-07T09:00:00Z",
        "tag": ["awardCancellation"],
        "awards": [{"id": "a1", "status": "cancelled"}],
    }
    compiled = compile_releases([cancelled, RELEASE_OK, later])
    assert compiled["tender"]["items"] == [{"id": "2", "description": "Kerbs"}]
    assert compiled["tender"]["status"] == "active"
    assert compiled["awards"] == [{"id": "a1", "status": "cancelled"}]
    assert compiled["date"] == "2027-01-07T09:00:00Z"


def test_release_dates_sort_as_the_times_they_stand_for():
    moments = [
        dt.datetime(2027, 1, 5, 9, 0, 0, 500_000, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 5, 10, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.datetime(2027, 1, 5, 9, 0, 1, tzinfo=dt.UTC),
    ]
    assert [stamp(moment) for moment in moments] == [
        "2027-01-05T09:00:00Z",
        "2027-01-05T09:00:00Z",
        "2027-01-05T09:00:01Z",
    ]


@pytest.mark.parametrize(
    ("cpv", "category"),
    [("45233252-0", "works"), ("30213100-6", "goods"), ("72000000-5", "services")],
)
def test_the_main_category_follows_the_cpv_division(cpv, category):
    assert main_category(cpv) == category
