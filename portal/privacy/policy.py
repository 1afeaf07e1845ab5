"""The retention policy: how long each kind of record holding personal data is kept.

Periods come from settings (``privacy.retention.<kind>``, or the environment's
``PORTAL_RETENTION_<KIND>``) as ``<number> days`` or ``<number> years``, and are checked at
start-up: a period that cannot be read, or one that would undo another (audit entries gone
before the payments they record, sessions deleted while they may still be used), stops the
portal with a message naming the setting, rather than deleting the wrong things at night.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from portal.settings import SettingsError

#: kinds of record, the setting of each, its default, and the law's reason for keeping it
SESSIONS = "sessions"
APPLICATION_DRAFTS = "application_drafts"
APPLICATIONS = "applications"
CASE_NOTES = "case_notes"
NATIONAL_IDS = "national_ids"
AUDIT_PERSONAL = "audit_personal"
AUDIT = "audit"
PAYMENTS = "payments"

DEFAULTS = {
    SESSIONS: "90 days",
    APPLICATION_DRAFTS: "180 days",
    APPLICATIONS: "5 years",
    CASE_NOTES: "5 years",
    NATIONAL_IDS: "3 years",
    AUDIT_PERSONAL: "2 years",
    AUDIT: "10 years",
    PAYMENTS: "10 years",
}

_PERIOD = re.compile(r"^\s*(\d{1,4})\s*(day|days|year|years)\s*$")


def setting_name(kind: str) -> str:
    return f"privacy.retention.{kind}"


@dataclass(frozen=True, order=True)
class Period:
    """A retention period in whole days or whole calendar years."""

    days: int = 0
    years: int = 0

    @classmethod
    def parse(cls, text: str, name: str) -> Period:
        match = _PERIOD.match(str(text))
        if match is None:
            raise SettingsError(
                f"{name} must be a number of days or years, like '90 days' or '10 years': {text!r}"
            )
        number, unit = int(match.group(1)), match.group(2)
        if number == 0:
            raise SettingsError(f"{name} must be longer than nothing: {text!r}")
        return cls(years=number) if unit.startswith("year") else cls(days=number)

    @property
    def approximate_days(self) -> int:
        """For comparing periods with each other (a year is at least 365 days)."""
        return self.days + 365 * self.years

    def before(self, moment: dt.datetime) -> dt.datetime:
        """The moment this period before ``moment``: records older than it are past their time."""
        return _shift_years(moment, -self.years) - dt.timedelta(days=self.days)

    def after(self, moment: dt.datetime) -> dt.datetime:
        """The moment this period after ``moment``: until when a record of then is kept."""
        return _shift_years(moment, self.years) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        if self.years:
            return f"{self.years} years"
        return f"{self.days} days"


def _shift_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a year without one
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class RetentionPolicy:
    periods: Mapping[str, Period]

    def __getitem__(self, kind: str) -> Period:
        return self.periods[kind]


def policy_from_settings(settings: Mapping) -> RetentionPolicy:
    """The policy ``settings`` give, checked; :class:`SettingsError` says what is wrong."""
    periods = {
        kind: Period.parse(settings.get(setting_name(kind)) or default, setting_name(kind))
        for kind, default in DEFAULTS.items()
    }
    _check_consistent(periods, settings)
    return RetentionPolicy(periods)


def _check_consistent(periods: Mapping[str, Period], settings: Mapping) -> None:
    def longer(long: str, short: str, why: str) -> None:
        if periods[long].approximate_days < periods[short].approximate_days:
            raise SettingsError(
                f"{setting_name(long)} ({periods[long]}) must be at least "
                f"{setting_name(short)} ({periods[short]}): {why}"
            )

    longer(AUDIT, PAYMENTS, "the audit trail of a payment is kept as long as the payment")
    longer(AUDIT, AUDIT_PERSONAL, "audit entries lose their personal details before they go")
    longer(APPLICATIONS, APPLICATION_DRAFTS, "a submitted application outlives a draft")
    max_hours = int(settings.get("portal.session.max_hours", 12))
    if periods[SESSIONS].approximate_days * 24 < max_hours:
        raise SettingsError(
            f"{setting_name(SESSIONS)} ({periods[SESSIONS]}) must be at least a session's "
            f"lifetime, portal.session.max_hours ({max_hours} hours)"
        )
