"""The pages after the opening: the public tender page's timeline of the whole lifecycle, and
each bidder's page of their bid (where it stands, what to do next, its money).

The lifecycle is recorded with the models and the state table directly (qualification
decisions, awards, a complaint, the contract), as the evaluation, complaints and contract
pages would record it; deposits move through billing's front door, so their refunds go to the
sandbox and come back with credit notes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import webtest
from sqlalchemy import select

from portal.billing import BillLineInput, forfeit_deposit, issue_bill, release_deposit
from portal.catalogue.interfaces import ServiceInfo
from portal.i18n import _
from portal.identity.models import User
from portal.money import Money
from portal.procurement import award as awards
from portal.procurement import state
from portal.procurement.bid_billing import PROCUREMENT, PROCUREMENT_DEPARTMENT, service_row
from portal.procurement.models import (
    COMPLAINT_REGISTERED,
    COMPLAINT_UPHELD,
    DISQUALIFIED,
    QUALIFIED,
    REFUSED_TO_SIGN,
    Auction,
    AuctionBidder,
    Award,
    Bid,
    Complaint,
    Contract,
    QualificationDecision,
    StoredFile,
    Tender,
)
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.procurement.after_opening import REPRESENTATIVES, browser, opened_tender

BUYER = "buyer-bruno"
COMPLAINT_TEXT = "The disqualification ignored our certificate no. 4471"


def _user(session, name_id: str) -> User:
    return session.scalars(select(User).where(User.name_id == name_id)).one()


def _bid(session, tender_id: int, persona: str) -> Bid:
    return session.scalars(
        select(Bid).where(
            Bid.tender_id == tender_id,
            Bid.organisation.has(registration_number=REPRESENTATIVES[persona]),
        )
    ).one()


def _decide(session, tender, persona, outcome, reason, now) -> None:
    session.add(
        QualificationDecision(
            tender_id=tender.id,
            bid_id=_bid(session, tender.id, persona).id,
            outcome=outcome,
            reason=reason,
            decided_at=now,
            decided_by_id=_user(session, BUYER).id,
        )
    )
    session.flush()


def _award(session, tender, persona, now, value_minor) -> Award:
    award = Award(
        tender_id=tender.id,
        bid_id=_bid(session, tender.id, persona).id,
        value_minor=value_minor,
        currency=tender.currency,
        reasons="The best price-quality ratio among the qualified bids",
        decided_at=now,
        decided_by_id=_user(session, BUYER).id,
        standstill_until=now + dt.timedelta(days=10),
    )
    session.add(award)
    state.transition(session, tender, state.STANDSTILL, now=now, cause="awarded")
    return award


def _release(session, tender, persona, reason, now) -> None:
    deposit = _bid(session, tender.id, persona).deposit
    release_deposit(session, deposit, reason, now)


def step(wsgi_app, clock, tender_id: int, hours: int, work) -> None:
    """Move the clock on ``hours`` and record ``work(session, tender, now)`` in a transaction
    of its own (refunds go to the sandbox when it commits)."""
    clock.set(clock.now() + dt.timedelta(hours=hours))
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, tender_id)
        work(session, tender, clock.now())


def lifecycle_to_contract(wsgi_app, clock, tender_id: int) -> None:
    """Southgate (lowest price) disqualified, Northwind qualified and awarded; Southgate's
    complaint upheld, the award withdrawn; Southgate qualified and awarded; the standstill
    ends; the contract is signed with Southgate."""

    def first_decisions(session, tender, now):
        _decide(session, tender, "rep-peter", DISQUALIFIED, "No insurance certificate", now)
        _decide(session, tender, "rep-olga", QUALIFIED, "Meets every requirement", now)

    def first_award(session, tender, now):
        _award(session, tender, "rep-olga", now, 182_400_00)
        _release(session, tender, "rep-quinn", "Not awarded", now)

    def complaint(session, tender, now):
        award = state.active_award(session, tender)
        peter = _bid(session, tender.id, "rep-peter")
        session.add(
            Complaint(
                tender_id=tender.id,
                award_id=award.id,
                bid_id=peter.id,
                organisation_id=peter.organisation_id,
                filed_by_id=_user(session, "rep-peter").id,
                status=COMPLAINT_REGISTERED,
                text=COMPLAINT_TEXT,
                filed_at=now,
                registered_at=now + dt.timedelta(minutes=30),
            )
        )

    def upheld(session, tender, now):
        complaint = session.scalars(select(Complaint).where(Complaint.tender_id == tender.id)).one()
        complaint.status = COMPLAINT_UPHELD
        complaint.decided_at = now
        complaint.decided_by_id = factories.user(session, "reviewer-rita").id
        complaint.decision_reason = "The certificate was in the bid"
        awards.withdraw_award(
            session, tender, reason="Complaint upheld: the certificate was in the bid", now=now
        )

    def second(session, tender, now):
        _decide(
            session,
            tender,
            "rep-peter",
            QUALIFIED,
            "Certificate found; meets every requirement",
            now,
        )
        _award(session, tender, "rep-peter", now, 176_950_00)
        _release(session, tender, "rep-olga", "Not awarded", now)

    def contract(session, tender, now):
        state.advance(session, tender, now)
        assert tender.status == state.CONTRACTING
        content = b"%PDF-1.4 signed contract"
        stored = StoredFile(
            sha256=hashlib.sha256(content).hexdigest(),
            media_type="application/pdf",
            size=len(content),
            content=content,
            created_at=now,
        )
        award = state.active_award(session, tender)
        session.add(stored)
        session.flush()
        session.add(
            Contract(
                tender_id=tender.id,
                award_id=award.id,
                value_minor=176_950_00,
                currency=tender.currency,
                signed_on=now.date(),
                file_id=stored.id,
                filename="contract.pdf",
                recorded_at=now,
                recorded_by_id=_user(session, BUYER).id,
            )
        )
        state.transition(session, tender, state.COMPLETE, now=now, cause="contract signed")
        _release(session, tender, "rep-peter", "Contract signed", now)

    step(wsgi_app, clock, tender_id, 2, first_decisions)
    step(wsgi_app, clock, tender_id, 1, first_award)
    step(wsgi_app, clock, tender_id, 24, complaint)
    step(wsgi_app, clock, tender_id, 48, upheld)
    step(wsgi_app, clock, tender_id, 3, second)
    step(wsgi_app, clock, tender_id, 24 * 11, contract)


def events(page) -> list[tuple[str, str, str]]:
    """The timeline as (kind, datetime attribute, title), in the page's order."""
    return [
        (item.attrs["data-kind"], item.find("time")["datetime"], item.find("h3").text.strip())
        for item in page.html.select("#timeline-events > li")
    ]


def anonymous(wsgi_app) -> webtest.TestApp:
    return webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )


def test_the_public_page_tells_the_whole_lifecycle_in_order_with_reasons(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    lifecycle_to_contract(wsgi_app, clock, made.tender.id)

    page = anonymous(wsgi_app).get(f"/tenders/{reference}")
    found = events(page)
    kinds = [kind for kind, _at, _title in found]
    assert kinds == [
        "published",
        "questions_closed",
        "bids_closed",
        "opened",
        "decision",
        "decision",
        "award",
        "complaint",
        "complaint_decided",
        "award_withdrawn",
        "decision",
        "award",
        "standstill_ended",
        "contract",
    ]
    times = [dt.datetime.fromisoformat(at) for _kind, at, _title in found]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    titles = [title for _kind, _at, title in found]
    assert titles[4:7] == [
        "Southgate Builders Ltd's bid was disqualified",
        "Northwind Supplies Ltd's bid was qualified",
        "Awarded to Northwind Supplies Ltd for €182,400.00",
    ]
    assert (
        titles[7] == "Southgate Builders Ltd complained against the award to Northwind Supplies Ltd"
    )
    assert titles[8] == "The complaint of Southgate Builders Ltd was upheld"
    assert titles[-1] == "Contract signed with Southgate Builders Ltd"

    timeline = page.html.select_one("#timeline")
    text = " ".join(timeline.text.split())
    assert "Reason: No insurance certificate" in text
    assert "Reasons: The best price-quality ratio among the qualified bids" in text
    assert "Complaint upheld: the certificate was in the bid" in text
    assert "Reasons: The certificate was in the bid" in text
    # the first qualification and award are marked overturned, not removed
    annulled = page.html.select("#timeline-events > li")[5]
    assert "Annulled" in annulled.select_one(".portal-event__note").text
    assert "Withdrawn" in page.html.select("#timeline-events > li")[6].text
    # local times name the portal's zone; the machine-readable one is UTC
    first_award = page.html.select("#timeline-events > li")[6]
    assert "(Europe/Ljubljana, UTC+1)" in first_award.select_one("time").text
    assert first_award.select_one("time")["datetime"].endswith("+00:00")
    assert "Standstill period until" in first_award.text and "Europe/Ljubljana" in first_award.text
    # the opening protocol is linked from the opening
    opened = page.html.select("#timeline-events > li")[3]
    assert opened.find("a")["href"] == f"/tenders/{reference}/protocol"


def test_nobody_but_the_parties_sees_private_data_on_the_public_page(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    lifecycle_to_contract(wsgi_app, clock, made.tender.id)

    for app in (anonymous(wsgi_app), browser(wsgi_app, devidp, "rep-quinn")):
        page = app.get(f"/tenders/{reference}")
        assert page.html.select_one("#timeline") is not None
        text = page.text
        # the complaint's text, the complainant's person, the buyer and the reviewer (both
        # "Ana Novak" of the factories)
        assert COMPLAINT_TEXT not in text
        for person in ("Peter", "Vidmar", "peter.vidmar", "Olga", "Novak", "ana@example.org"):
            assert person not in text, person
        # the organisation may be named
        assert "Southgate Builders Ltd complained" in text


def test_the_bidders_pages_say_where_each_bid_stands_and_its_money(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    tender_id = made.tender.id

    def bid_page(persona):
        """Signed in afresh: the clock moves on by days, past a session's life."""
        app = browser(wsgi_app, devidp, persona)
        return app, app.get(f"/tenders/{reference}/bid")

    _app, page = bid_page("rep-olga")
    assert page.html.select_one("#standing-status").text == "Under evaluation"
    deposit = page.html.select_one("#charge-deposit")
    assert "Held for you" in deposit.text
    assert deposit.select_one("a[href^='/receipts/']") is not None
    assert page.html.select_one("#charge-fee") is not None

    def decisions(session, tender, now):
        _decide(session, tender, "rep-peter", DISQUALIFIED, "No insurance certificate", now)
        _decide(session, tender, "rep-olga", QUALIFIED, "Meets every requirement", now)
        _award(session, tender, "rep-olga", now, 182_400_00)
        _release(session, tender, "rep-peter", "Not awarded", now)
        _release(session, tender, "rep-quinn", "Not awarded", now)

    step(wsgi_app, clock, tender_id, 2, decisions)

    _app, page = bid_page("rep-olga")
    assert page.html.select_one("#standing-status").text == "Awarded to you"
    assert "Wait for the standstill period to end" in page.html.select_one("#next-steps").text

    _app, peter = bid_page("rep-peter")
    assert peter.html.select_one("#standing-status").text == "Disqualified, not awarded"
    standing = " ".join(peter.html.select_one("#standing").text.split())
    assert "Your bid was disqualified: No insurance certificate" in standing
    assert "you may file a complaint until" in standing
    deposit = peter.html.select_one("#charge-deposit")
    assert "Given back" in deposit.text and "Not awarded" in deposit.text
    assert "Refund of €1,000.00" in deposit.text and "Refunded" in deposit.text
    papers = [a.text for a in deposit.select("a[href^='/receipts/']")]
    assert any(paper.startswith("Receipt ") for paper in papers)
    assert any(paper.startswith("Credit note ") for paper in papers), papers

    _app, quinn = bid_page("rep-quinn")
    assert quinn.html.select_one("#standing-status").text == "Not awarded"

    def refused(session, tender, now):
        state.advance(session, tender, now)
        assert tender.status == state.CONTRACTING
        olga_bid = _bid(session, tender.id, "rep-olga")
        forfeit_deposit(session, olga_bid.deposit, "Refused to sign the contract", now)
        _decide(session, tender, "rep-olga", REFUSED_TO_SIGN, "Did not sign within 5 days", now)
        awards.withdraw_award(session, tender, reason="The winner refused to sign", now=now)

    step(wsgi_app, clock, tender_id, 24 * 11, refused)

    olga, page = bid_page("rep-olga")
    assert page.html.select_one("#standing-status").text == "You refused to sign the contract"
    deposit = page.html.select_one("#charge-deposit")
    assert "Forfeited" in deposit.text and "Refused to sign the contract" in deposit.text
    assert "Refund of" not in deposit.text

    mine = olga.get("/bids")
    assert "You refused to sign the contract" in mine.html.select_one("#bids").text
    assert "Security forfeited" in mine.html.select_one("#bids").text

    public = anonymous(wsgi_app).get(f"/tenders/{reference}")
    titles = [title for _kind, _at, title in events(public)]
    assert "Northwind Supplies Ltd refused to sign the contract" in titles
    assert "The award to Northwind Supplies Ltd was withdrawn" in titles
    assert re.search(r"Did not sign within 5 days", public.text)


def test_the_auction_and_an_unpaid_complaint_fee_on_the_pages(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    """While the auction runs the bidders are told when; its result goes on the timeline
    (the protocol's link only once its route is there); a complaint's fee left unpaid is in
    the money box and the next step is to pay it."""
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    tender_id = made.tender.id
    prices = {"rep-olga": 182_400_00, "rep-peter": 176_950_00, "rep-quinn": 190_000_00}

    def auction(session, tender, now):
        # what the auction part makes at the opening: the tender goes to its auction
        tender.status = state.AUCTION
        session.add(
            Auction(
                tender_id=tender.id,
                starts_at=now + dt.timedelta(hours=1),
                slot_seconds=120,
                ends_at=now + dt.timedelta(hours=1, minutes=18),
                bidders=[
                    AuctionBidder(
                        bid_id=_bid(session, tender.id, persona).id,
                        label=label,
                        initial_price_minor=prices[persona],
                        price_minor=prices[persona],
                    )
                    for label, persona in zip("ABC", prices, strict=True)
                ],
            )
        )

    step(wsgi_app, clock, tender_id, 0, auction)
    app = browser(wsgi_app, devidp, "rep-quinn")
    page = app.get(f"/tenders/{reference}/bid")
    assert page.html.select_one("#standing-status").text == "In the electronic auction"
    assert "The auction runs in 3 rounds from" in page.html.select_one("#standing").text
    assert "Take part in the auction" in page.html.select_one("#next-steps").text

    def finished(session, tender, now):
        found = session.scalars(select(Auction).where(Auction.tender_id == tender.id)).one()
        for bidder in found.bidders:
            bidder.price_minor -= 5_000_00
        found.status = "finished"
        found.finished_at = now
        state.transition(session, tender, state.EVALUATION, now=now, cause="auction finished")

    step(wsgi_app, clock, tender_id, 2, finished)
    public = anonymous(wsgi_app).get(f"/tenders/{reference}")
    (ended,) = [
        li for li in public.html.select("#timeline-events > li") if li["data-kind"] == "auction"
    ]
    assert ended.h3.text == "The electronic auction ended"
    lines = [p.text for p in ended.select(".portal-event__text")]
    assert lines[0] == "Southgate Builders Ltd: €176,950.00, after the auction €171,950.00"
    assert ended.find("a") is None  # no auction protocol route on this branch

    def award_and_complaint(session, tender, now):
        _decide(session, tender, "rep-peter", QUALIFIED, "Meets every requirement", now)
        award = _award(session, tender, "rep-peter", now, 171_950_00)
        quinn = _bid(session, tender.id, "rep-quinn")
        service = service_row(
            session,
            ServiceInfo(
                code="tender-complaint-fee",
                name=_("Tender complaint fee"),
                description=_("The fee of a complaint against an award."),
                department_code=PROCUREMENT_DEPARTMENT,
                kind=PROCUREMENT,
                listed=False,
            ),
        )
        session.flush()
        bill = issue_bill(
            session,
            service=service,
            number=f"{tender.reference}-CMP-1",
            description="Complaint fee",
            due_date=award.standstill_until.date(),
            lines=[BillLineInput("Complaint fee", Money(300_00, "EUR"))],
            payer_organisation=quinn.organisation,
        )
        session.add(
            Complaint(
                tender_id=tender.id,
                award_id=award.id,
                bid_id=quinn.id,
                organisation_id=quinn.organisation_id,
                filed_by_id=_user(session, "rep-quinn").id,
                text=COMPLAINT_TEXT,
                filed_at=now,
                fee_bill=bill,
            )
        )

    step(wsgi_app, clock, tender_id, 1, award_and_complaint)
    app = browser(wsgi_app, devidp, "rep-quinn")
    page = app.get(f"/tenders/{reference}/bid")
    assert page.html.select_one("#standing-status").text == "Not awarded"
    steps = page.html.select_one("#next-steps")
    assert "Pay your complaint's fee before" in steps.text
    assert steps.find("a")["href"] == "/bills"
    assert "Awaiting its fee" in page.html.select_one("#my-complaints").text
    (fee,) = page.html.select("[id^=charge-complaint_fee]")
    assert "€300.00" in fee.text and "To pay" in fee.text
    public = anonymous(wsgi_app).get(f"/tenders/{reference}")
    assert "It is registered once its fee is paid." in public.text
    assert COMPLAINT_TEXT not in public.text
