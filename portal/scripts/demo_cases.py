"""The demo's work queue: a few cases for the demo clerks to claim, hand over and close.

The demo's registered complaint (:mod:`portal.scripts.demo_tenders`) opens its own case, as
every complaint does; these add reconciliation mismatches of the kind ``portal-reconcile``
finds, one of them past its due time, so that the queue shows the overdue first. Idempotent:
a case about the same subject, open or ended, is not opened again.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import select

from portal.cases.models import Case
from portal.cases.sources import SETTLEMENT_DISCREPANCY
from portal.cases.work import open_case
from portal.i18n import _
from portal.identity.models import Department
from portal.localized import SOURCE_LANGUAGE, message_in

#: (department, days before now it was found, reference, the finding, the amounts reported)
MISMATCHES = [
    ("revenue", 6, "pay_demo_0001", _("unknown reference"), "provider 48.00 EUR"),
    (
        "revenue",
        0,
        "pay_demo_0002",
        _("the provider settled a different amount"),
        "provider 21.00 EUR, portal 12.90 EUR",
    ),
    ("registry", 1, "pay_demo_0003", _("unknown reference"), "provider 57.00 EUR"),
    (None, 2, "pay_demo_0004", _("unknown reference"), "provider 5.00 EUR"),
]


def load(dbsession, clock) -> None:
    now = clock.now()
    for department_code, days_ago, reference, finding, amounts in MISMATCHES:
        found_at = now - dt.timedelta(days=days_ago)
        subject_id = f"{found_at.date().isoformat()}:payment:{reference}"
        known = dbsession.scalar(
            select(Case.id).where(
                Case.subject_type == "settlement", Case.subject_id.like(f"%:payment:{reference}")
            )
        )
        if known is not None:
            continue
        department_id = (
            dbsession.scalar(select(Department.id).where(Department.code == department_code))
            if department_code
            else None
        )
        open_case(
            dbsession,
            SETTLEMENT_DISCREPANCY,
            subject_type="settlement",
            subject_id=subject_id,
            title=partial(
                message_in,
                message=_(
                    "Payment ${reference}: ${detail}",
                    mapping={"reference": reference, "detail": finding},
                ),
            ),
            department_id=department_id,
            now=found_at,
            note=f"{message_in(SOURCE_LANGUAGE, finding)} ({amounts})",
        )
