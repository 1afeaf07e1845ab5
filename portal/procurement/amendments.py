"""Amending a published tender: a new version saying what changed, and why.

What may change once bidders have read the tender: its description, estimated value, items,
documents and periods. The bid fee, the deposit, the committee and the award criterion may
not: bidders paid and planned on them, and the tender's key was split among that committee.
Every amendment records a :class:`~portal.procurement.models.TenderVersion` with each change
as {field, before, after} in words a bidder can read; when fewer than
``procurement.amendment_min_days`` (default 7) days are left to the deadline, the deadline
moves to that many days from now at the same local time of day, and the opening by as much,
so bidders have time to react. Bids already submitted must then be confirmed (or changed):
they are flagged, and their organisations' representatives are e-mailed after commit.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.audit import record
from portal.i18n import _
from portal.money import Money
from portal.procurement import state
from portal.procurement.bidder_mail import AMENDED, local_text, mail_bidders_after_commit
from portal.procurement.drafting import (
    MAX_DESCRIPTION,
    FormReader,
    apply_items,
    check_periods,
)
from portal.procurement.local_times import same_time_of_day_after
from portal.procurement.models import (
    MAX_REASON,
    Bid,
    Tender,
    TenderVersion,
)
from portal.procurement.ocds.snapshots import published_snapshot
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

DEFAULT_MIN_DAYS = 7
SUBMITTED = "submitted"


def min_days(settings) -> int:
    return int(settings.get("procurement.amendment_min_days", DEFAULT_MIN_DAYS))


def check_amendable(tender: Tender) -> None:
    if tender.status not in state.AMENDABLE:
        raise Refusal(
            CONFLICT, _("Only a tender still open for bids can be amended."), about=tender
        )


def read_reason(post, field: str = "reason") -> str:
    reader = FormReader(post, "EUR")
    reason = reader.text(field, MAX_REASON, True, _("Say why the tender is amended."))
    reader.refuse_if_wrong()
    return reason


def read_amendment(post, tender: Tender, *, timezone: ZoneInfo, now: dt.datetime) -> dict:
    """What the amendment form says, or a refusal naming every bad field. The questions
    period can only be changed while it is still running."""
    reader = FormReader(post, tender.currency)
    values: dict = {
        "reason": reader.text("reason", MAX_REASON, True, _("Say why the tender is amended.")),
        "description": reader.text("description", MAX_DESCRIPTION),
        "estimated_value_minor": reader.amount("estimated_value"),
        "items": reader.items(),
    }
    if not values["items"]:
        reader.errors.append(FieldError("item-1-description", _("Keep at least one item.")))
    names = ["bids_until", "opening_at"]
    if tender.status == state.QUESTIONS:
        names.insert(0, "questions_until")
    periods = {name: reader.instant(name, timezone) for name in names}
    for name in names:
        if periods[name] is None and not any(e.field == name for e in reader.errors):
            reader.errors.append(FieldError(name, _("Enter the date and the time.")))
    periods.setdefault("questions_until", tender.questions_until)
    check_periods(reader, periods, now, published=True)
    if (
        tender.status == state.QUESTIONS
        and periods["questions_until"] is not None
        and (periods["questions_until"] <= now)
    ):
        reader.errors.append(
            FieldError("questions_until", _("The questions period must end in the future."))
        )
    reader.refuse_if_wrong()
    values.update(periods)
    return values


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).format("en")


def _items(items) -> str:
    return "; ".join(
        f"{item.cpv_code} {item.description}: {item.quantity.normalize():f} {item.unit}"
        for item in items
    )


def amend(
    dbsession,
    tender: Tender,
    values: dict,
    *,
    actor,
    now: dt.datetime,
    timezone: ZoneInfo,
    settings,
) -> TenderVersion:
    """Apply the amendment form's ``values`` to ``tender``; refused if nothing changes."""
    check_amendable(tender)
    changes = []

    def change(field: str, before: str, after: str) -> None:
        if before != after:
            changes.append({"field": field, "before": before, "after": after})

    change("description", tender.description, values["description"])
    change(
        "estimated_value",
        _money(tender.estimated_value_minor, tender.currency),
        _money(values["estimated_value_minor"], tender.currency),
    )
    before_items = _items(tender.items)
    after_items = _items(values["items"])
    for name in ("questions_until", "bids_until", "opening_at"):
        change(
            name, local_text(getattr(tender, name), timezone), local_text(values[name], timezone)
        )
    change("items", before_items, after_items)
    if not changes:
        raise Refusal(
            INVALID,
            _("Nothing was changed: change the tender before recording an amendment."),
            errors=[FieldError("description", _("Nothing was changed."))],
        )
    tender.description = values["description"]
    tender.estimated_value_minor = values["estimated_value_minor"]
    if before_items != after_items:
        apply_items(tender, values["items"])
    for name in ("questions_until", "bids_until", "opening_at"):
        setattr(tender, name, values[name])
    return record_amendment(
        dbsession,
        tender,
        changes,
        reason=values["reason"],
        actor=actor,
        now=now,
        timezone=timezone,
        settings=settings,
    )


def record_amendment(
    dbsession,
    tender: Tender,
    changes: list[dict],
    *,
    reason: str,
    actor,
    now: dt.datetime,
    timezone: ZoneInfo,
    settings,
) -> TenderVersion:
    """Record the changes already made to ``tender`` as its next version: extend a near
    deadline, flag the bids submitted so far and have their bidders e-mailed after commit."""
    check_amendable(tender)
    days = min_days(settings)
    earliest = now + dt.timedelta(days=days)
    if tender.bids_until is not None and tender.bids_until < earliest:
        before = tender.bids_until
        moved = same_time_of_day_after(before, earliest, timezone) - before
        changes.append(
            {
                "field": "bids_until",
                "before": local_text(before, timezone),
                "after": local_text(before + moved, timezone),
                "note": f"extended to leave at least {days} days",
            }
        )
        tender.bids_until = before + moved
        if tender.opening_at is not None:
            changes.append(
                {
                    "field": "opening_at",
                    "before": local_text(tender.opening_at, timezone),
                    "after": local_text(tender.opening_at + moved, timezone),
                    "note": "moved with the deadline",
                }
            )
            tender.opening_at = tender.opening_at + moved
    tender.version += 1
    tender.updated_at = now
    version = TenderVersion(
        tender=tender,
        number=tender.version,
        at=now,
        actor_id=actor.id,
        reason=reason,
        changes_json=json.dumps(changes, ensure_ascii=False),
        snapshot_json=published_snapshot(tender),
    )
    dbsession.add(version)
    submitted = list(
        dbsession.scalars(select(Bid).where(Bid.tender_id == tender.id, Bid.status == SUBMITTED))
    )
    for bid in submitted:
        bid.needs_confirmation = True
    dbsession.flush()
    record(
        dbsession,
        "tender.amended",
        actor_id=actor.id,
        object=("tender", tender.reference),
        details={"version": version.number, "fields": sorted({c["field"] for c in changes})},
    )
    mail_bidders_after_commit(dbsession, AMENDED, submitted)
    return version
