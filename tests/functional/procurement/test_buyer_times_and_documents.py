"""Deadlines typed in local time across the daylight-saving changes, and a draft's documents
(checked by content, stored once, removed from a draft)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from webtest import Upload

from portal.procurement.models import StoredFile, TenderDocument
from tests.functional.procurement import buyer_support
from tests.functional.procurement.buyer_support import (
    fill_complete,
    set_local,
    start_tender,
    tender_of,
)

procurement, bruno, committee = (
    buyer_support.procurement,
    buyer_support.bruno,
    buyer_support.committee,
)

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(300)


def reference_of(page) -> str:
    return page.request.path.split("/")[3]


def test_a_deadline_at_10_local_on_the_days_the_clocks_change_is_that_instant(
    bruno, dbsession, committee
):
    page = start_tender(bruno)
    reference = reference_of(page)
    for day, utc_hour in ((dt.date(2027, 3, 28), 8), (dt.date(2027, 10, 31), 9)):
        form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
        fill_complete(form, committee[:3], dt.date(2027, 3, 20))
        set_local(form, "questions_until", day - dt.timedelta(days=1), "10:00")
        set_local(form, "bids_until", day, "10:00")
        set_local(form, "opening_at", day, "14:00")
        form.submit("action", value="save", status=303)
        tender = tender_of(dbsession, reference)
        assert tender.bids_until == dt.datetime(
            day.year, day.month, day.day, utc_hour, tzinfo=dt.UTC
        )
        assert tender.bids_until.tzinfo is not None
        again = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
        assert again["bids_until-time"].value == "10:00"
        assert again["bids_until-day"].value == str(day.day)
        shown = bruno.get(f"/procurement/tenders/{reference}")
        assert "10:00" in shown.html.find(id="bids-until").text


def test_a_time_that_does_not_exist_or_happens_twice_is_refused(bruno, dbsession, committee):
    page = start_tender(bruno)
    reference = reference_of(page)
    cases = [
        (dt.date(2027, 3, 28), "02:30", "02:30 does not exist on 2027-03-28"),
        (dt.date(2027, 10, 31), "02:30", "02:30 happens twice on 2027-10-31"),
    ]
    for day, time, message in cases:
        form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
        fill_complete(form, committee[:3], dt.date(2027, 3, 20))
        set_local(form, "bids_until", day, time)
        set_local(form, "opening_at", day, "14:00")
        refused = form.submit("action", value="save", status=422)
        assert message in refused.text
        assert "Choose a time outside the changing hour." in refused.text
        assert refused.forms["tender-form"]["bids_until-time"].value == time
    assert tender_of(dbsession, reference).bids_until is None


def stored_count(dbsession) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(StoredFile))


def test_a_pdf_is_added_and_a_renamed_program_refused(bruno, dbsession):
    page = start_tender(bruno)
    reference = reference_of(page)
    overview = bruno.get(f"/procurement/tenders/{reference}")
    form = overview.forms["upload-form"]
    form["title"] = "Terms of reference"
    form["file"] = Upload("terms.pdf", PDF, "application/pdf")
    form.submit(status=303)
    page = bruno.get(f"/procurement/tenders/{reference}")
    documents = page.html.find(id="documents").text
    assert "Terms of reference" in documents and "PDF" in documents and "1 KB" in documents
    assert stored_count(dbsession) == 1

    form = page.forms["upload-form"]
    form["title"] = "Bill of quantities"
    form["file"] = Upload("quantities.pdf", EXE, "application/pdf")
    refused = form.submit(status=415)
    assert "This file is not a document of a type we accept" in refused.text
    assert 'id="form-errors"' in refused.text
    assert stored_count(dbsession) == 1
    assert len(tender_of(dbsession, reference).documents) == 1

    form = page.forms["upload-form"]
    form["title"] = ""
    form["file"] = Upload("again.pdf", PDF, "application/pdf")
    refused = form.submit(status=422)
    assert "Give the document a title." in refused.text

    # the same bytes attached again are stored once
    form = page.forms["upload-form"]
    form["title"] = "Terms, signed copy"
    form["file"] = Upload("terms-copy.pdf", PDF, "application/pdf")
    form.submit(status=303)
    assert stored_count(dbsession) == 1
    assert len(tender_of(dbsession, reference).documents) == 2

    # removing from a draft deletes the attachment
    page = bruno.get(f"/procurement/tenders/{reference}")
    removal = [f for f in page.forms.values() if f.action.endswith("/remove")][0]
    removal.submit(status=303)
    dbsession.expire_all()
    titles = dbsession.scalars(select(TenderDocument.title)).all()
    assert len(titles) == 1
