"""The retention policy read from settings: periods, defaults, and the mistakes that stop the
portal at start-up."""

from __future__ import annotations

import datetime as dt

import pytest

import portal
from portal.privacy.policy import DEFAULTS, Period, policy_from_settings
from portal.settings import SettingsError, apply_environment

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def test_the_defaults_keep_payments_ten_years_and_sessions_ninety_days():
    policy = policy_from_settings({})
    assert policy["payments"] == Period(years=10)
    assert policy["sessions"] == Period(days=90)
    assert set(policy.periods) == set(DEFAULTS)


@pytest.mark.parametrize(
    ("text", "period"),
    [("90 days", Period(days=90)), ("1 day", Period(days=1)), (" 7years ", Period(years=7))],
)
def test_a_period_is_days_or_years(text, period):
    assert Period.parse(text, "privacy.retention.x") == period


@pytest.mark.parametrize("text", ["ten years", "3 months", "0 days", "-5 days", "5.5 years"])
def test_a_period_that_cannot_be_read_is_refused_by_name(text):
    with pytest.raises(SettingsError, match="privacy.retention.sessions must"):
        policy_from_settings({"privacy.retention.sessions": text})


def test_an_empty_setting_means_the_default():
    assert policy_from_settings({"privacy.retention.sessions": ""})["sessions"] == Period(days=90)


def test_years_are_calendar_years_and_29_february_falls_back_to_the_28th():
    assert Period(years=10).before(NOW) == NOW.replace(year=2016)
    leap = dt.datetime(2028, 2, 29, tzinfo=dt.UTC)
    assert Period(years=1).after(leap) == dt.datetime(2029, 2, 28, tzinfo=dt.UTC)
    assert Period(days=90).before(NOW) == NOW - dt.timedelta(days=90)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"privacy.retention.audit": "5 years"}, "audit trail of a payment"),
        (
            {"privacy.retention.audit_personal": "11 years"},
            "lose their personal details before they go",
        ),
        ({"privacy.retention.application_drafts": "6 years"}, "outlives a draft"),
        ({"portal.session.max_hours": "48", "privacy.retention.sessions": "1 day"}, "lifetime"),
    ],
)
def test_periods_that_would_undo_each_other_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        policy_from_settings(settings)


def test_the_environment_sets_a_period():
    settings = apply_environment({}, {"PORTAL_RETENTION_PAYMENTS": "8 years"})
    assert policy_from_settings(settings)["payments"] == Period(years=8)


def test_a_bad_period_stops_the_portal_at_start_up(app_settings):
    with pytest.raises(SettingsError, match="privacy.retention.payments must be a number"):
        portal.main({}, **{**app_settings, "privacy.retention.payments": "forever"})
