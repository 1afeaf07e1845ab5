"""Lapsing unpaid complaints against a payment committing at the same moment (PostgreSQL, two
threads): the payment's transaction holds the complaint's row (as :func:`register_paid` does)
while the lapsing job runs; the job waits for it and then leaves the complaint alone, rather
than cancelling a paid fee and lapsing a complaint its payment has just settled."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from portal.billing import with_status
from portal.procurement.complaints import lapse_unpaid
from portal.procurement.models import Complaint, Tender
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import opened_tender
from tests.functional.procurement.complaint_support import (
    award_to,
    complaint_of,
    file,
    set_fee,
    signed_in_payer,
)

TIMEOUT = 60
pytestmark = pytest.mark.postgresql


def test_a_complaint_settled_while_the_lapsing_job_runs_is_not_lapsed(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    set_fee(dbsession)
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    award = award_to(dbsession, made, "rep-peter", clock.now())
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    now = award.standstill_until + dt.timedelta(minutes=1)
    registry = wsgi_app.registry
    locked = threading.Event()

    def payment_committing():
        """Hold the complaint's row as a payment's transaction does, then settle it."""
        with task_dbsession(registry) as session:
            held = session.scalars(
                select(Complaint).where(Complaint.id == complaint.id).with_for_update()
            ).one()
            locked.set()
            time.sleep(1.0)  # the lapsing job has read by now, and waits on the row
            held.status = "registered"
            held.registered_at = now
        return "settled"

    def lapsing():
        assert locked.wait(TIMEOUT)
        with task_dbsession(registry) as session:
            tender = session.get_one(Tender, made.tender.id)
            return [lapsed.id for lapsed in lapse_unpaid(session, tender, now)]

    with ThreadPoolExecutor(2) as pool:
        settled = pool.submit(payment_committing)
        lapsed = pool.submit(lapsing)
        assert settled.result(TIMEOUT) == "settled"
        assert lapsed.result(TIMEOUT) == []

    dbsession.expire_all()
    assert complaint.status == "registered"
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.status != "cancelled"
