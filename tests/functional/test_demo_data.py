"""The demo data command's content: idempotent, and what `make run` shows is really there."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.billing import settling_payment, with_status
from portal.billing.models import Bill
from portal.cases.models import Case
from portal.catalogue.models import Service
from portal.clock import clock as app_clock
from portal.devidp.personas import PERSONAS
from portal.identity.models import Organisation, User
from portal.procurement import evaluation, opening, qualification
from portal.procurement.bid_content import decode
from portal.procurement.committee_keys import unlock_committee_key
from portal.procurement.models import BidReceipt, CommitteeKey, Complaint, Tender
from portal.procurement.prices import valid_bids
from portal.procurement.sealing import EncryptedShare, Opening, RecordedBid, unlock_share
from portal.procurement.state import active_award
from portal.refusals import Refusal
from portal.scripts import demo_bank, demo_cases, demo_tenders
from portal.scripts.demo_data import (
    DEMO_ASSESSMENT,
    DEMO_OVERDUE,
    DEMO_REFUNDED,
    DEMO_SETTLED,
    load,
)
from portal.services.assessments import record_assessment
from portal.services.fees import fee_for
from portal.services.models import TaxAssessment, UtilityAccount, UtilityBill
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import browser


def load_demo(registry) -> None:
    """Load the demo world in a transaction of its own, as the command does (documents are
    rendered once it commits)."""
    with task_dbsession(registry) as session:
        load(
            session,
            registry["pii_vault"],
            registry["saml"].attributes,
            app_clock(registry),
            registry,
        )


def test_demo_data_is_complete_and_idempotent(wsgi_app, dbsession):
    for _ in range(2):
        load_demo(wsgi_app.registry)
    assert dbsession.scalar(select(func.count()).select_from(User)) == len(PERSONAS)
    assert dbsession.scalar(select(func.count()).select_from(Organisation)) == 3
    bills = dbsession.scalars(select(Bill)).all()
    # every persona is also a citizen: 3 bills and a property tax assessment in 2 instalments
    people = len(PERSONAS)
    # each organisation's two bills, the open tender's bid fee and security, billed to the
    # two organisations that began bids on it, the fee and security of each of the three
    # organisations' bids on the three tenders after their opening, and one complaint fee
    after_opening = list(demo_tenders.AFTER_OPENING)
    # and the older unpaid bills that age the receivables
    assert len(bills) == people * 3 + people * 2 + 3 * 2 + 2 * 2 + 3 * 3 * 2 + 1 + len(DEMO_OVERDUE)
    # the clerks' reports have collections to show: these bills were paid when loaded
    for _payer, numbers in DEMO_SETTLED:
        for number in numbers:
            (bill,) = [bill for bill in bills if bill.number == number]
            assert settling_payment(dbsession, bill.id) is not None, number
    name_id, number, _property, total = DEMO_ASSESSMENT
    instalments = [bill for bill in bills if bill.number.startswith(number)]
    assert sum(bill.total_minor for bill in instalments) == total
    assert {bill.payer_user.name_id for bill in instalments} == {name_id}
    assert {bill.service.code for bill in bills} == {
        "property-tax",
        "water",
        "waste",
        "vehicle-registration",
        "business-licence",
        "tender-bid-fee",
        "tender-bid-security",
        "tender-complaint-fee",
    }
    tenders = {t.title: t for t in dbsession.scalars(select(Tender))}
    paid = {bid.fee_bill_id for title in after_opening for bid in tenders[title].bids}
    complaint = dbsession.scalars(select(Complaint)).one()
    paid.add(complaint.fee_bill_id)
    # the bills paid for the reports, but the one refunded (owed again once the refund is made)
    paid |= {
        bill.id
        for bill in bills
        for _payer, numbers in DEMO_SETTLED
        if bill.number in numbers and bill.number != DEMO_REFUNDED
    }
    refunded = {bill.id for bill in bills if bill.number == DEMO_REFUNDED}
    # a deposit's bill is paid while the security is held, owed again once it is given back
    lodged = {bid.deposit.bill_id for title in after_opening for bid in tenders[title].bids}
    # the demo bank statement's bills (test_the_demo_statement_pays_fully_partly_over_...)
    lodged |= {
        bill.id
        for bill in bills
        if bill.number.endswith(f"-{demo_bank.PAYER}") or bill.number == demo_bank.OVERPAID
    }
    assert {
        view.status for view in with_status(dbsession, bills) if view.bill.id not in lodged
    } == {"open", "paid"}
    assert {view.bill.id for view in with_status(dbsession, bills) if view.status == "paid"} >= paid
    assert {
        view.status
        for view in with_status(dbsession, bills)
        if view.bill.id not in paid | lodged | refunded
    } == {"open"}
    assert dbsession.scalar(select(func.count()).select_from(UtilityAccount)) == people * 2
    assert dbsession.scalar(select(func.count()).select_from(UtilityBill)) == people * 2
    assert (
        fee_for(dbsession, "vehicle-registration", "passenger-car", dt.date.today()).minor == 45_00
    )
    # a complaint against an award can be filed and billed under make run
    assert fee_for(dbsession, "tender-complaint-fee", "complaint", dt.date.today()).minor == 500_00
    clara = dbsession.scalar(select(User).where(User.name_id == "clerk-clara"))
    assert [d.code for d in clara.departments] == ["revenue"]
    assert {title: t.status for title, t in tenders.items()} == {
        demo_tenders.OPEN_TENDER: "questions",
        demo_tenders.CLOSED_TENDER: "awaiting_opening",
        demo_tenders.EVALUATION_TENDER: "evaluation",
        demo_tenders.STANDSTILL_TENDER: "standstill",
        demo_tenders.COMPLETE_TENDER: "complete",
    }
    closed = tenders[demo_tenders.CLOSED_TENDER]
    assert sorted(bid.organisation.registration_number for bid in closed.bids) == [
        "NW-100200",
        "SG-300400",
    ]
    assert {(bid.status, bid.draft_sealed, len(bid.versions)) for bid in closed.bids} == {
        ("submitted", None, 1)
    }
    assert dbsession.scalar(select(func.count()).select_from(BidReceipt)) == 2 + 3 * 3
    opened = tenders[demo_tenders.OPEN_TENDER]
    assert {bid.status for bid in opened.bids} == {"draft"}
    assert all(bid.fee_bill is not None and bid.deposit is not None for bid in opened.bids)
    _check_after_opening(dbsession, tenders, complaint, app_clock(wsgi_app.registry).now())
    _check_work_queue(dbsession, complaint, app_clock(wsgi_app.registry).now())


def _check_work_queue(dbsession, complaint, now) -> None:
    """The demo clerks' queue has work, once however often the demo is loaded: the
    reconciliation mismatches (one overdue) and the registered complaint's own case."""
    cases = dbsession.scalars(select(Case).order_by(Case.id)).all()
    by_kind = {}
    for case in cases:
        by_kind.setdefault(case.kind, []).append(case)
    assert len(by_kind["settlement_discrepancy"]) == len(demo_cases.MISMATCHES)
    (complained,) = by_kind["tender_complaint"]
    assert (complained.subject_id, complained.state) == (complaint.public_id, "received")
    assert complained.department.code == "procurement"
    revenue = [c for c in cases if c.department and c.department.code == "revenue"]
    assert any(c.due_at < now for c in revenue) and any(c.due_at > now for c in revenue)


def _deposits(tender) -> dict[str, str]:
    return {bid.organisation.registration_number: bid.deposit.status for bid in tender.bids}


def _check_after_opening(dbsession, tenders, complaint, now) -> None:
    """The three tenders after their opening are where the README's tour says."""
    for title in demo_tenders.AFTER_OPENING:
        tender = tenders[title]
        assert opening.protocol_of(dbsession, tender) is not None
        assert len(valid_bids(dbsession, tender)) == 3
        # the committee's quality scores are all entered: the ranking is final
        assert evaluation.ranking(dbsession, tender).complete
    evaluating = tenders[demo_tenders.EVALUATION_TENDER]
    assert qualification.decisions_in_force(dbsession, evaluating) == {}
    assert qualification.standing(dbsession, evaluating).examined is not None
    assert _deposits(evaluating) == dict.fromkeys(["NW-100200", "SG-300400", "EB-500600"], "held")
    standstill = tenders[demo_tenders.STANDSTILL_TENDER]
    award = active_award(dbsession, standstill)
    assert award.bid.organisation.registration_number == "NW-100200"
    assert award.standstill_until > now
    assert _deposits(standstill) == {
        "NW-100200": "held",
        "SG-300400": "released",
        "EB-500600": "released",
    }
    assert (complaint.tender, complaint.status) == (standstill, "registered")
    assert complaint.organisation.registration_number == "EB-500600"
    complete = tenders[demo_tenders.COMPLETE_TENDER]
    assert complete.contract is not None and complete.contract.file is not None
    assert complete.contract.award.bid.organisation.registration_number == "SG-300400"
    assert set(_deposits(complete).values()) == {"released"}
    assert all(bid.deposit.refund is not None for bid in complete.bids)


def test_the_demo_committee_opens_the_closed_tender_with_its_readme_passphrases(
    wsgi_app, dbsession
):
    load_demo(wsgi_app.registry)
    tender = dbsession.scalar(select(Tender).where(Tender.title == demo_tenders.CLOSED_TENDER))
    opening = Opening(tender.reference, tender.public_key, tender.committee_threshold)
    for seat in tender.committee[:2]:
        key = dbsession.scalar(select(CommitteeKey).where(CommitteeKey.user_id == seat.member_id))
        passphrase = demo_tenders.COMMITTEE_PASSPHRASES[seat.member.name_id]
        member_key = unlock_committee_key(key.sealed_private_key, passphrase)
        opening.add(
            unlock_share(
                EncryptedShare(str(seat.member_id), seat.encrypted_share),
                tender.reference,
                member_key,
            )
        )
    opened = opening.open(
        RecordedBid(bid.public_id, version.number, version.sealed, version.sha256)
        for bid in tender.bids
        for version in bid.versions
    )
    prices = sorted(decode(bid.content).price.minor for bid in opened)
    assert prices == sorted(price for _number, price in demo_tenders.BIDDERS.values())


def test_opening_the_closed_demo_tender_on_the_tour_schedules_its_auction(wsgi_app, dbsession):
    """Clara and Dan unlock their shares with the README's passphrases, as the tour says: the
    two bids open and go to the auction the tender declares."""
    load_demo(wsgi_app.registry)
    now = app_clock(wsgi_app.registry).now()
    for name_id in ("clerk-clara", "clerk-dan"):
        with task_dbsession(wsgi_app.registry) as session:
            tender = session.scalars(
                select(Tender).where(Tender.title == demo_tenders.CLOSED_TENDER)
            ).one()
            member = session.scalars(select(User).where(User.name_id == name_id)).one()
            passphrase = demo_tenders.COMMITTEE_PASSPHRASES[name_id]
            opening.unlock(session, tender, member, passphrase, wsgi_app.registry["pii_vault"], now)
    dbsession.expire_all()
    tender = dbsession.scalars(
        select(Tender).where(Tender.title == demo_tenders.CLOSED_TENDER)
    ).one()
    assert tender.status == "auction"
    assert [bidder.label for bidder in tender.auction.bidders] == ["A", "B"]
    assert tender.auction.starts_at > now


def test_a_bidder_complains_against_the_demo_award_and_the_reviewer_has_the_queue(
    wsgi_app, devidp, dbsession
):
    """rep-peter (Southgate did not win the standstill tender) files a complaint on the
    page and is billed its fee; reviewer-rita's queue holds Eastbridge's registered one."""
    load_demo(wsgi_app.registry)
    tender = dbsession.scalar(select(Tender).where(Tender.title == demo_tenders.STANDSTILL_TENDER))
    peter = browser(wsgi_app, devidp, "rep-peter")
    form = peter.get(f"/tenders/{tender.reference}/complaints/new").forms["complaint-form"]
    form["text"] = "The winner's method statement names no team for night work."
    filed = form.submit(status=303).follow()
    assert "Awaiting payment of the fee" in filed.text
    assert filed.forms["pay-form"]  # the fee is paid from the complaint's page
    dbsession.expire_all()
    southgate = dbsession.scalars(
        select(Complaint).where(Complaint.organisation.has(registration_number="SG-300400"))
    ).one()
    assert (southgate.tender_id, southgate.status) == (tender.id, "awaiting_payment")
    assert southgate.fee_bill.total_minor == 500_00
    queue = browser(wsgi_app, devidp, "reviewer-rita").get("/review/complaints")
    registered = dbsession.scalars(select(Complaint).where(Complaint.status == "registered")).one()
    assert registered.organisation.registration_number == "EB-500600"
    assert registered.public_id in queue.text
    assert tender.reference in queue.text
    assert southgate.public_id not in queue.text  # not registered until its fee is paid


def test_ana_has_one_set_of_property_tax_bills_for_the_year(wsgi_app, dbsession):
    """The demo once gave her two overlapping 2026 sets (184.50 x 2 and 206.30 x 2)."""
    load_demo(wsgi_app.registry)
    ana = dbsession.scalar(select(User).where(User.name_id == "citizen-ana"))
    tax = dbsession.scalars(
        select(Bill)
        .join(Service, Bill.service_id == Service.id)
        .where(Service.code == "property-tax", Bill.payer_user_id == ana.id)
        .order_by(Bill.due_date)
    ).all()
    assert [bill.total_minor for bill in tax] == [206_30, 206_30]
    year = dt.date.today().year
    assert dbsession.scalar(select(func.count()).select_from(TaxAssessment)) == len(PERSONAS)
    service = tax[0].service
    with pytest.raises(Refusal, match="already assessed"):
        record_assessment(
            dbsession,
            service,
            "PT-ANA-AGAIN",
            DEMO_ASSESSMENT[2],
            year,
            now=app_clock(wsgi_app.registry).now(),
        )


def test_the_demo_statement_pays_fully_partly_over_and_queues_one_credit(wsgi_app, dbsession):
    from portal.billing.models import BankLine, BankStatement
    from portal.cases.models import Case

    for _ in range(2):
        load_demo(wsgi_app.registry)
    assert dbsession.scalar(select(func.count()).select_from(BankStatement)) == 1
    statuses = {
        line.servicer_reference: line.status for line in dbsession.scalars(select(BankLine))
    }
    assert statuses == {
        "DEMO-0001": "matched",
        "DEMO-0002": "matched",
        "DEMO-0003": "matched",
        "DEMO-0004": "unmatched",
    }
    payer = demo_bank.PAYER
    numbers = [f"W2610-{payer}", f"G2610-{payer}", demo_bank.OVERPAID]
    bills = {
        view.bill.number: view.status
        for view in with_status(
            dbsession, list(dbsession.scalars(select(Bill).where(Bill.number.in_(numbers))))
        )
    }
    assert [bills[number] for number in numbers] == ["paid", "partly_paid", "overpaid"]
    assert (
        dbsession.scalar(select(func.count()).select_from(Case).where(Case.kind == "bank_line"))
        == 1
    )
