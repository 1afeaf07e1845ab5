"""The public tender list and a tender's page, as anyone reads them: published tenders only,
searched and filtered, each shown with the status the clock gives it and its times in the
portal's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.procurement import bid_content, state
from portal.procurement.files import Upload, store
from portal.procurement.models import Tender, TenderDocument
from tests.functional.procurement.opening_support import (
    protocol_kind,  # noqa: F401 (a fixture)
    sealed_bid,
    unlock_on_page,
)
from tests.functional.procurement.public_world import (
    ZONE,
    browser,
    make_tender,
    references,
    text_of,
)

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def three(dbsession, clock, wsgi_app):
    """Three published tenders and a draft; the clock four days on, when the school's
    deadline has passed, the paper's questions have closed and the road's are open."""
    road = make_tender(dbsession, clock, NOW)
    paper = make_tender(
        dbsession,
        clock,
        NOW,
        title="Office paper supply",
        description="A4 and A3 paper for the city offices.",
        cpv="30197630-1",
        department=("parks", "Parks and Green Spaces"),
        factory={"questions_days": 2, "bidding_days": 20},
    )
    school = make_tender(
        dbsession,
        clock,
        NOW,
        title="School roof repair",
        description="Removal of asbestos sheets and a new roof.",
        cpv="45261210-9",
        factory={"questions_days": 1, "bidding_days": 3},
    )
    draft = make_tender(dbsession, clock, NOW, title="Secret draft", factory={"published": False})
    clock.set(NOW + dt.timedelta(days=4))
    return {"road": road, "paper": paper, "school": school, "draft": draft}


def listed(app, **params) -> list[str]:
    return references(app.get("/tenders", params=params, status=200))


def test_the_list_shows_published_tenders_soonest_deadline_first_with_their_due_status(
    wsgi_app, three
):
    anyone = browser(wsgi_app)
    page = anyone.get("/tenders", status=200)
    refs = {name: tender.reference for name, tender in three.items()}

    assert references(page) == [refs["school"], refs["road"], refs["paper"]]
    assert "Secret draft" not in page.text and refs["draft"] not in page.text
    assert page.text.count("<h1") == 1 and 'id="main-content"' in page.text
    text = text_of(page)
    assert "Closed, awaiting opening" in text  # the school's deadline passed, by the clock
    assert "Open for questions and bids" in text and "Open for bids" in text
    assert "Parks and Green Spaces" in text and "30197630-1" in text


def test_filters_by_status_buyer_cpv_prefix_deadline_and_text(wsgi_app, three):
    anyone = browser(wsgi_app)
    ref = {name: tender.reference for name, tender in three.items()}

    assert listed(anyone, status="questions") == [ref["road"]]
    assert listed(anyone, status="bidding") == [ref["paper"]]
    assert listed(anyone, status="awaiting_opening") == [ref["school"]]
    assert listed(anyone, status="opened") == []
    assert listed(anyone, buyer="parks") == [ref["paper"]]
    assert listed(anyone, buyer="procurement") == [ref["school"], ref["road"]]
    assert listed(anyone, cpv="45") == [ref["school"], ref["road"]]
    assert listed(anyone, cpv="4523") == [ref["road"]]
    assert listed(anyone, cpv="30197630-1") == [ref["paper"]]
    assert listed(anyone, q="asbestos") == [ref["school"]]
    assert listed(anyone, q="PAPER") == [ref["paper"]]
    assert listed(anyone, q=ref["road"]) == [ref["road"]]
    assert listed(anyone, q="%") == []
    assert listed(anyone, q="Secret") == []
    assert listed(anyone, **{"from": "2027-03-05", "to": "2027-03-11"}) == [ref["road"]]
    days = {"from-day": "1", "from-month": "3", "from-year": "2027"}
    days |= {"to-day": "4", "to-month": "3", "to-year": "2027"}
    assert listed(anyone, **days) == [ref["school"]]
    assert listed(anyone, cpv="45", status="questions", buyer="procurement") == [ref["road"]]


def test_the_deadline_filter_counts_days_in_the_portals_time_zone(dbsession, clock, wsgi_app):
    """00:30 on the 12th in Ljubljana is 23:30 on the 11th in UTC: a deadline of the 12th."""
    late = make_tender(
        dbsession, clock, NOW, bids_until=dt.datetime(2027, 3, 11, 23, 30, tzinfo=dt.UTC)
    )
    anyone = browser(wsgi_app)

    assert listed(anyone, **{"from": "2027-03-11", "to": "2027-03-11"}) == []
    assert listed(anyone, **{"from": "2027-03-12", "to": "2027-03-12"}) == [late.reference]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "draft"}, "Choose a status from the list."),
        ({"status": "' OR '1'='1"}, "Choose a status from the list."),
        ({"buyer": "nobody"}, "Choose a buyer from the list."),
        ({"cpv": "45%"}, "Write a CPV code or its first digits"),
        ({"cpv": "123456789"}, "Write a CPV code or its first digits"),
        ({"q": "x" * 201}, "Search for at most 200 characters."),
        ({"from-day": "30", "from-month": "2", "from-year": "2027"}, "Enter a real date"),
        ({"from": "2027-13-01"}, "Dates are written as YYYY-MM-DD"),
        ({"from": "2027-03-10", "to": "2027-03-01"}, "The last day comes before the first day."),
    ],
)
def test_a_filter_that_cannot_be_read_is_marked_and_lists_nothing(wsgi_app, three, params, message):
    page = browser(wsgi_app).get("/tenders", params=params, status=400)

    assert message in text_of(page)
    assert 'id="form-errors"' in page.text and references(page) == []
    assert page.text.count("<h1") == 1


def test_the_list_is_paged_twenty_at_a_time(dbsession, clock, wsgi_app):
    made = [
        make_tender(dbsession, clock, NOW, factory={"bidding_days": 10 + n}).reference
        for n in range(21)
    ]
    anyone = browser(wsgi_app)

    first = anyone.get("/tenders", params={"cpv": "45"}, status=200)
    assert references(first) == made[:20]
    second = first.click(description="Next page")
    assert references(second) == made[20:]
    assert "cpv=45" in second.request.url
    assert "Previous page" in second.text and "Next page" not in second.text


def test_a_draft_is_not_found_by_anyone_but_its_buyers(wsgi_app, devidp, three):
    path = f"/tenders/{three['draft'].reference}"

    browser(wsgi_app).get(path, status=404)
    browser(wsgi_app, devidp, "rep-olga").get(path, status=404)
    browser(wsgi_app).get("/tenders/T-2027-999999", status=404)


def test_the_tender_page_shows_times_in_local_time_naming_the_zone(dbsession, clock, wsgi_app):
    zone = ZoneInfo(ZONE)
    tender = make_tender(
        dbsession,
        clock,
        dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.UTC),
        questions_until=dt.datetime(2027, 3, 20, 10, 0, tzinfo=zone),
        bids_until=dt.datetime(2027, 3, 28, 10, 0, tzinfo=zone),
        opening_at=dt.datetime(2027, 3, 28, 11, 30, tzinfo=zone),
    )
    anyone = browser(wsgi_app)
    clock.set(dt.datetime(2027, 3, 20, 8, 0, tzinfo=dt.UTC))
    early = text_of(anyone.get(f"/tenders/{tender.reference}"))
    assert "Time left to bid: 8 days" in early and "Time left to ask questions: 1 hour" in early
    clock.set(dt.datetime(2027, 3, 20, 8, 59, 30, tzinfo=dt.UTC))
    assert "to ask questions: 1 minute" in text_of(anyone.get(f"/tenders/{tender.reference}"))
    clock.set(dt.datetime(2027, 3, 27, 6, 0, tzinfo=dt.UTC))
    page = anyone.get(f"/tenders/{tender.reference}", status=200)
    text = text_of(page)

    assert "Sunday, March 28, 2027, 10:00" in text
    assert "(Europe/Ljubljana, UTC+2)" in text  # summer time from the 28th at 02:00
    assert "Saturday, March 20, 2027, 10:00" in text and "(Europe/Ljubljana, UTC+1)" in text
    assert "Time left to bid: 1 day 2 hours" in text and "to ask questions" not in text
    assert "Open for bids" in text
    assert tender.reference in text and "Public Procurement Office" in text
    assert "€250,000.00" in text and "€50.00" in text and "€1,000.00" in text
    assert "45233252-0" in text and "8,400 m²" in text
    assert "3 members; any 2 of them together open the bids" in text
    assert "Zupan" not in text  # the committee is not named before the opening
    assert page.text.count("<h1") == 1 and "<script" not in page.text


def test_a_page_read_after_the_deadline_shows_it_closed_and_writes_nothing(
    dbsession, clock, wsgi_app, engine
):
    tender = make_tender(dbsession, clock, NOW)
    clock.set(tender.bids_until)

    page = browser(wsgi_app).get(f"/tenders/{tender.reference}", status=200)

    assert "Closed, awaiting opening" in text_of(page) and "Time left" not in page.text
    with engine.connect() as connection:
        stored = connection.scalar(select(Tender.status).where(Tender.id == tender.id))
    assert stored == state.QUESTIONS


def test_a_representative_is_offered_to_prepare_a_bid_only_while_bids_are_accepted(
    dbsession, clock, wsgi_app, devidp
):
    tender = make_tender(dbsession, clock, NOW)
    path = f"/tenders/{tender.reference}"
    olga = browser(wsgi_app, devidp, "rep-olga")
    has_bid_route = wsgi_app.routes_mapper.get_route("tender_bid") is not None

    assert ("Prepare a bid" in olga.get(path).text) == has_bid_route
    assert "Prepare a bid" not in browser(wsgi_app).get(path).text
    assert "Prepare a bid" not in browser(wsgi_app, devidp, "citizen-ana").get(path).text
    clock.set(tender.bids_until)
    assert "Prepare a bid" not in olga.get(path).text


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def attach(dbsession, tender, title: str, filename: str, removed_in=None) -> TenderDocument:
    stored = store(dbsession, Upload(filename, "application/pdf", PDF), NOW)
    document = TenderDocument(
        tender=tender,
        file=stored,
        title=title,
        filename=filename,
        added_in_version=1,
        removed_in_version=removed_in,
        added_at=NOW,
    )
    dbsession.add(document)
    dbsession.commit()
    return document


def test_documents_download_with_their_headers_and_an_unchanged_one_is_not_sent_again(
    dbsession, clock, wsgi_app
):
    tender = make_tender(dbsession, clock, NOW)
    attach(dbsession, tender, "Terms of the tender", "terms.pdf")
    anyone = browser(wsgi_app)
    page = anyone.get(f"/tenders/{tender.reference}")

    download = page.click(description="Terms of the tender")

    assert download.body == PDF
    assert download.content_type == "application/pdf"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="terms.pdf"')
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    etag = download.headers["ETag"]
    again = anyone.get(download.request.path, headers={"If-None-Match": etag}, status=304)
    assert again.body == b"" and again.headers["ETag"] == etag
    anyone.get(download.request.path, headers={"If-None-Match": '"other"'}, status=200)


def test_a_document_of_another_tender_is_not_found_and_a_removed_one_stays_on_record(
    dbsession, clock, wsgi_app
):
    tender = make_tender(dbsession, clock, NOW)
    other = make_tender(dbsession, clock, NOW, title="Other")
    theirs = attach(dbsession, other, "Their terms", "theirs.pdf")
    old = attach(dbsession, tender, "Old drawings", "old.pdf", removed_in=2)
    anyone = browser(wsgi_app)

    anyone.get(f"/tenders/{tender.reference}/documents/{theirs.public_id}", status=404)
    anyone.get(f"/tenders/{tender.reference}/documents/nonexistent", status=404)
    page = anyone.get(f"/tenders/{tender.reference}")
    assert "removed in version 2" in text_of(page)
    assert anyone.get(f"/tenders/{tender.reference}/documents/{old.public_id}").body == PDF


def test_an_opened_tender_links_its_opening_protocol(
    dbsession,
    clock,
    wsgi_app,
    devidp,
    protocol_kind,  # noqa: F811
):
    tender = make_tender(dbsession, clock, NOW)
    sealed_bid(
        dbsession,
        tender,
        "Northwind Supplies Ltd",
        198_500_00,
        now=NOW,
        documents=(bid_content.BidDocument("method.pdf", "application/pdf", b"%PDF-1.7 x"),),
    )
    dbsession.commit()
    path = f"/tenders/{tender.reference}"
    before = browser(wsgi_app).get(path)
    assert before.html.find(id="protocol") is None and before.html.find(id="opened-bids") is None
    clock.set(tender.opening_at + dt.timedelta(minutes=5))

    for member in ("clerk-clara", "clerk-dan"):
        unlock_on_page(browser(wsgi_app, devidp, member), tender.reference)

    page = browser(wsgi_app).get(path)
    assert page.html.find(id="protocol")["href"] == f"/tenders/{tender.reference}/protocol"
    assert page.html.find(id="status").get_text() == "Evaluation"
    # the bids as the protocol states them; their documents stay with the committee
    opened = page.html.find(id="opened-bids").get_text(" ", strip=True)
    assert "Northwind Supplies Ltd" in opened and "€198,500.00" in opened
    assert "method.pdf" not in page.text
