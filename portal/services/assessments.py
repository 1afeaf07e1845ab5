"""Property tax assessments: a property is assessed once a year.

Assessments arrive three ways: a file a clerk uploads, ``portal-import-bills``, and
``POST /api/v1/bills`` with an ``assessment``. All three record them here, so the rule is
written once: a second assessment of a property for a year it is already assessed for is
refused, whatever its number. The unique constraint on ``tax_assessment`` backs it against
two arriving at the same moment.
"""

from __future__ import annotations

from pyramid.i18n import TranslationString
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.i18n import _
from portal.services.models import TaxAssessment, TaxAssessmentBill


class AssessmentRefused(Exception):
    """This assessment cannot be recorded; ``message`` says why, to the tax office."""

    def __init__(self, message: TranslationString):
        super().__init__(message.interpolate())
        self.message = message


def _by_number(dbsession, service, number: str) -> TaxAssessment | None:
    return dbsession.scalar(
        select(TaxAssessment).where(
            TaxAssessment.service_id == service.id, TaxAssessment.number == number
        )
    )


def _already_assessed(property_ref: str, year: int, number: str) -> TranslationString:
    return _(
        "Property ${property} is already assessed for ${year} (assessment ${number}). "
        "Correct that assessment instead of sending another.",
        mapping={"property": property_ref, "year": year, "number": number},
    )


def conflict(dbsession, service, number: str, property_ref: str, year: int):
    """Why a new assessment ``number`` of ``property_ref`` for ``year`` cannot be recorded,
    or ``None`` if it can. Reads only: a file is checked whole before anything is written."""
    if _by_number(dbsession, service, number) is not None:
        return _("This assessment was imported before.")
    taken = dbsession.scalar(
        select(TaxAssessment).where(
            TaxAssessment.service_id == service.id,
            TaxAssessment.property_ref == property_ref,
            TaxAssessment.year == year,
        )
    )
    if taken is not None:
        return _already_assessed(property_ref, year, taken.number)
    return None


def record_assessment(dbsession, service, number: str, property_ref: str, year: int):
    """Record a new assessment, or refuse it (:class:`AssessmentRefused`)."""
    reason = conflict(dbsession, service, number, property_ref, year)
    if reason is not None:
        raise AssessmentRefused(reason)
    assessment = TaxAssessment(
        service_id=service.id, number=number, property_ref=property_ref, year=year
    )
    try:
        with dbsession.begin_nested():
            dbsession.add(assessment)
    except IntegrityError:  # recorded meanwhile by a concurrent request
        raise AssessmentRefused(
            _(
                "Another assessment of property ${property} for ${year} was recorded at the "
                "same moment.",
                mapping={"property": property_ref, "year": year},
            )
        ) from None
    return assessment


def assessment_for_instalment(dbsession, service, number: str, property_ref: str, year: int):
    """The assessment an instalment sent on its own (the API) belongs to: the one already
    recorded under ``number`` if it is of the same property and year, else a new one."""
    known = _by_number(dbsession, service, number)
    if known is None:
        return record_assessment(dbsession, service, number, property_ref, year)
    if (known.property_ref, known.year) != (property_ref, year):
        raise AssessmentRefused(
            _(
                "Assessment ${number} is of another property or year.",
                mapping={"number": number},
            )
        )
    return known


def add_instalment(dbsession, assessment: TaxAssessment, bill) -> None:
    dbsession.add(TaxAssessmentBill(bill_id=bill.id, assessment_id=assessment.id))
