"""Property tax assessments: a property has one assessment in force a year.

Assessments arrive three ways: a file a clerk uploads, ``portal-import-bills``, and
``POST /api/v1/bills`` with an ``assessment``. All three record them here, so the rule is
written once: another assessment of a property for a year it is already assessed for is
refused, whatever its number, unless it says which assessment it corrects. A correction takes
that one's place and cancels its bills; one with anything paid on it is not corrected (its
payments would be owed twice). The partial unique index on ``tax_assessment`` backs the rule
against two arriving at the same moment.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import CANCELLED, OPEN, cancel_bill, with_status
from portal.billing.models import Bill
from portal.i18n import _
from portal.refusals import CONFLICT, Refusal
from portal.services.models import TaxAssessment, TaxAssessmentBill


def _by_number(dbsession, service, number: str) -> TaxAssessment | None:
    return dbsession.scalar(
        select(TaxAssessment).where(
            TaxAssessment.service_id == service.id, TaxAssessment.number == number
        )
    )


def _in_force(dbsession, service, property_ref: str, year: int) -> TaxAssessment | None:
    return dbsession.scalar(
        select(TaxAssessment).where(
            TaxAssessment.service_id == service.id,
            TaxAssessment.property_ref == property_ref,
            TaxAssessment.year == year,
            TaxAssessment.corrected_at.is_(None),
        )
    )


def _bills(dbsession, assessment: TaxAssessment) -> list[Bill]:
    return list(
        dbsession.scalars(
            select(Bill)
            .join(TaxAssessmentBill, TaxAssessmentBill.bill_id == Bill.id)
            .where(TaxAssessmentBill.assessment_id == assessment.id)
            .order_by(Bill.id)
        )
    )


def _anything_paid(dbsession, assessment: TaxAssessment) -> bool:
    views = with_status(dbsession, _bills(dbsession, assessment))
    return any(view.status not in (OPEN, CANCELLED) for view in views)


def conflict(dbsession, service, number: str, property_ref: str, year: int, corrects: str = ""):
    """Why a new assessment ``number`` of ``property_ref`` for ``year`` (correcting the one
    numbered ``corrects``, if given) cannot be recorded (a :class:`Refusal` to raise or to
    report), or ``None`` if it can. Reads only:
    a file is checked whole before anything is written."""
    if _by_number(dbsession, service, number) is not None:
        return Refusal(CONFLICT, _("This assessment was imported before."))
    in_force = _in_force(dbsession, service, property_ref, year)
    mapping = {"property": property_ref, "year": year, "number": corrects}
    if corrects:
        if in_force is None or in_force.number != corrects:
            return Refusal(
                CONFLICT,
                _(
                    "Assessment ${number} is not the one in force for property ${property} in "
                    "${year}: only that one can be corrected.",
                    mapping=mapping,
                ),
            )
        if _anything_paid(dbsession, in_force):
            return Refusal(
                CONFLICT,
                _(
                    "Part of assessment ${number} is paid: it cannot be corrected by cancelling "
                    "its bills. Refund what was paid first.",
                    mapping=mapping,
                ),
            )
    elif in_force is not None:
        return Refusal(
            CONFLICT,
            _(
                "Property ${property} is already assessed for ${year} (assessment ${number}). "
                "To replace it, send the new one as its correction: ${number} under corrects.",
                mapping={**mapping, "number": in_force.number},
            ),
        )
    return None


def record_assessment(
    dbsession,
    service,
    number: str,
    property_ref: str,
    year: int,
    corrects: str = "",
    *,
    now: dt.datetime,
):
    """Record a new assessment, or a correction of the one in force (whose bills are
    cancelled); or refuse it (a :class:`Refusal`, a conflict)."""
    refusal = conflict(dbsession, service, number, property_ref, year, corrects)
    if refusal is not None:
        raise refusal
    corrected = _in_force(dbsession, service, property_ref, year) if corrects else None
    if corrected is not None:
        for bill in _bills(dbsession, corrected):
            if bill.cancelled_at is None:
                cancel_bill(dbsession, bill, f"Replaced by the corrected assessment {number}", now)
        corrected.corrected_at = now
        dbsession.flush()  # out of force before the correction takes its place
    assessment = TaxAssessment(
        service_id=service.id,
        number=number,
        property_ref=property_ref,
        year=year,
        corrects_id=corrected.id if corrected else None,
    )
    try:
        with dbsession.begin_nested():
            dbsession.add(assessment)
    except IntegrityError:  # recorded meanwhile by a concurrent request
        raise Refusal(
            CONFLICT,
            _(
                "Another assessment of property ${property} for ${year} was recorded at the "
                "same moment.",
                mapping={"property": property_ref, "year": year},
            ),
        ) from None
    return assessment


def assessment_for_instalment(
    dbsession,
    service,
    number: str,
    property_ref: str,
    year: int,
    corrects: str = "",
    *,
    now: dt.datetime,
):
    """The assessment an instalment sent on its own (the API) belongs to: the one already
    recorded under ``number`` if it is of the same property and year, else a new one (the
    first instalment of a correction records it)."""
    known = _by_number(dbsession, service, number)
    if known is None:
        return record_assessment(dbsession, service, number, property_ref, year, corrects, now=now)
    if (known.property_ref, known.year) != (property_ref, year):
        raise Refusal(
            CONFLICT,
            _(
                "Assessment ${number} is of another property or year.",
                mapping={"number": number},
            ),
        )
    return known


def add_instalment(dbsession, assessment: TaxAssessment, bill) -> None:
    dbsession.add(TaxAssessmentBill(bill_id=bill.id, assessment_id=assessment.id))
