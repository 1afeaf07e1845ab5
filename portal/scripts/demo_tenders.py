"""The procurement part of the demo world: a committee with keys, a tender open for bids, a
tender past its deadline whose sealed bids wait for the committee, and three tenders after
their opening, one at each persona's part: under evaluation (the buyer examines, qualifies and
awards), awarded and in its standstill (a bidder may complain; one complaint waits for the
reviewer), and complete with its contract.

Everything after the opening is done by the portal's own functions, in the order people do
it: the bidders pay their fees and securities through the payment provider
(:mod:`portal.scripts.demo_payments`) and submit, the committee unlocks its shares with its
passphrases, the committee's scores, the buyer's decisions, award and contract, a bidder's
complaint and its fee. Each step is dated in the demo's past by the clock.

The committee members' development passphrases are printed in the README's walkthrough; a real
committee member chooses their own on ``/procurement/committee-key`` and the portal never sees
it again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import weasyprint
from sqlalchemy import select

from portal.clock import Clock
from portal.documents.kinds import document_issuer
from portal.identity.models import Department, Organisation, User
from portal.money import Money
from portal.procurement import (
    award,
    bids,
    complaints,
    contract,
    evaluation,
    files,
    opening,
    qualification,
    state,
)
from portal.procurement.committee_keys import create_committee_key
from portal.procurement.models import (
    BEST_VALUE,
    LOWEST_PRICE,
    QUALIFIED,
    Award,
    CommitteeKey,
    CommitteeSeat,
    Tender,
    TenderCriterion,
    TenderDocument,
    TenderItem,
)
from portal.procurement.tenders import new_tender, publish
from portal.scripts import demo_payments

#: committee member (dev IdP persona) -> development passphrase (README, "A tour of the demo")
COMMITTEE_PASSPHRASES = {
    "clerk-clara": "clara opens bids",
    "clerk-dan": "dan opens bids",
    "clerk-mia": "mia opens bids",
}
BUYER = "buyer-bruno"
#: the demo organisations' representatives, and what each bids on the closed tender
BIDDERS = {
    "rep-olga": ("NW-100200", 182_400_00),
    "rep-peter": ("SG-300400", 176_950_00),
}
OPEN_TENDER = "School meals for primary schools, 2027-2028"
CLOSED_TENDER = "Street lighting maintenance, 2027-2029"
#: the tenders after their opening (README, "A tour of the demo")
EVALUATION_TENDER = "Road resurfacing in the Riverside district, 2027"
STANDSTILL_TENDER = "Snow clearing of municipal roads, winter 2027-2028"
COMPLETE_TENDER = "Office furniture for the town hall, 2027"
REVIEWER = "reviewer-rita"
#: the opening's two committee members (of three, threshold two)
OPENERS = ("clerk-clara", "clerk-dan")
QUALITY = "Method statement and team"
#: tender -> each representative's (organisation, price) and the committee's quality points;
#: best price-quality with price 60 and QUALITY 40
AFTER_OPENING = {
    EVALUATION_TENDER: {
        "rep-olga": ("NW-100200", 412_800_00, "31"),
        "rep-peter": ("SG-300400", 398_500_00, "24"),
        "rep-quinn": ("EB-500600", 425_000_00, "36"),
    },
    STANDSTILL_TENDER: {
        "rep-olga": ("NW-100200", 182_400_00, "38"),
        "rep-peter": ("SG-300400", 176_950_00, "25"),
        "rep-quinn": ("EB-500600", 190_000_00, "30"),
    },
    COMPLETE_TENDER: {
        "rep-olga": ("NW-100200", 64_900_00, "28"),
        "rep-peter": ("SG-300400", 61_250_00, "35"),
        "rep-quinn": ("EB-500600", 66_400_00, "30"),
    },
}
#: who has complained against the standstill tender's award (registered, fee paid)
COMPLAINANT = "rep-quinn"


class _Then(Clock):
    """The clock as it read at a moment in the demo's past (bids are submitted days ago)."""

    def __init__(self, at: dt.datetime, timezone):
        super().__init__(timezone)
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


def _user(dbsession, name_id: str) -> User:
    return dbsession.scalars(select(User).where(User.name_id == name_id)).one()


def _at(clock, days: int, hour: int) -> dt.datetime:
    """``hour`` o'clock local time, ``days`` from today in the portal's time zone, in UTC."""
    day = clock.today() + dt.timedelta(days=days)
    local = dt.datetime.combine(day, dt.time(hour), tzinfo=clock.timezone)
    return local.astimezone(dt.UTC)


def _committee_keys(dbsession, now: dt.datetime) -> list[User]:
    members = []
    for name_id, passphrase in COMMITTEE_PASSPHRASES.items():
        member = _user(dbsession, name_id)
        if dbsession.scalar(select(CommitteeKey).where(CommitteeKey.user_id == member.id)) is None:
            key = create_committee_key(passphrase)
            dbsession.add(
                CommitteeKey(
                    user=member,
                    public_key=key.public_key,
                    sealed_private_key=key.sealed_private_key,
                    created_at=now,
                )
            )
        members.append(member)
    dbsession.flush()
    return members


def _pdf(title: str, text: str) -> bytes:
    return weasyprint.HTML(string=f"<h1>{title}</h1><p>{text}</p>").write_pdf()


def _organisation(dbsession, number: str) -> Organisation:
    return dbsession.scalars(
        select(Organisation).where(Organisation.registration_number == number)
    ).one()


def _sealed_bids(
    dbsession, registry, tender: Tender, at: dt.datetime, timezone, bidders=BIDDERS
) -> None:
    """Each of ``bidders``' bid on ``tender``: begun, its fee and security paid through the
    provider, then submitted (sealed) ``at``, the next 47 minutes later, and so on."""
    vault = registry["pii_vault"]
    answers = {
        str(criterion.position): f"Our answer on {criterion.name.lower()}: see the offer."
        for criterion in bids.quality_criteria(tender)
    }
    for index, (name_id, (number, price)) in enumerate(bidders.items()):
        submitted = at + dt.timedelta(minutes=47 * index)
        representative = _user(dbsession, name_id)
        organisation = _organisation(dbsession, number)
        bid = bids.start_bid(
            dbsession,
            tender,
            organisation,
            user=representative,
            now=submitted - dt.timedelta(hours=1),
            timezone=timezone,
        )
        charges = [bill for bill in (bid.fee_bill, bid.deposit and bid.deposit.bill) if bill]
        if charges:
            demo_payments.pay(
                dbsession,
                registry,
                charges,
                user=representative,
                organisation=organisation,
                now=submitted - dt.timedelta(minutes=30),
            )
        bids.save_draft(bid, Money(price, tender.currency), answers, now=submitted, vault=vault)
        offer = files.Upload(
            "offer.pdf",
            "application/pdf",
            _pdf(f"{organisation.name}: offer for {tender.reference}", tender.title),
        )
        bids.add_document(dbsession, bid, offer, now=submitted, vault=vault)
        bids.submit_bid(
            dbsession,
            registry,
            bid,
            user=representative,
            clock=_Then(submitted, timezone),
            locale="en",
        )


def _drafts(dbsession, tender: Tender, at: dt.datetime, timezone) -> None:
    """Each demo organisation's bid on ``tender`` begun: the fee and the security billed."""
    for name_id, (number, _price) in BIDDERS.items():
        bids.start_bid(
            dbsession,
            tender,
            _organisation(dbsession, number),
            user=_user(dbsession, name_id),
            now=at,
            timezone=timezone,
        )


def _tender(
    dbsession,
    clock,
    *,
    title,
    description,
    published_days_ago,
    periods,
    criteria,
    items,
    fee,
    deposit,
    auction_step=None,
) -> Tender:
    buyer = _user(dbsession, BUYER)
    department = dbsession.scalars(select(Department).where(Department.code == "procurement")).one()
    published = clock.now() - dt.timedelta(days=published_days_ago)
    tender = new_tender(
        dbsession,
        department=department,
        actor=buyer,
        title=title,
        now=published,
        timezone=clock.timezone,
    )
    tender.description = description
    tender.estimated_value_minor = items[0][4]
    tender.bid_fee_minor = fee
    tender.deposit_minor = deposit
    tender.auction_enabled = auction_step is not None
    tender.auction_step_minor = auction_step
    tender.award_criterion = BEST_VALUE if criteria else LOWEST_PRICE
    tender.criteria = [
        TenderCriterion(position=position, name=name, weight=weight, is_price=is_price)
        for position, (name, weight, is_price) in enumerate(criteria, start=1)
    ]
    tender.items = [
        TenderItem(
            position=position, description=text, cpv_code=cpv, quantity=Decimal(qty), unit=unit
        )
        for position, (text, cpv, qty, unit, _value) in enumerate(items, start=1)
    ]
    tender.questions_until, tender.bids_until, tender.opening_at = periods
    tender.committee = [
        CommitteeSeat(member=member) for member in _committee_keys(dbsession, published)
    ]
    tender.committee_threshold = 2
    terms = files.Upload(
        f"{tender.reference} terms.pdf",
        "application/pdf",
        _pdf(
            title,
            f"Tender {tender.reference}: terms of reference. Bidders state a price excluding "
            "VAT for the whole contract and answer each quality criterion. Bids are sealed "
            "until the committee opens them.",
        ),
    )
    tender.documents = [
        TenderDocument(
            file=files.store(dbsession, terms, published),
            title="Terms of reference",
            filename=terms.filename,
            added_in_version=1,
            added_at=published,
        )
    ]
    dbsession.flush()
    publish(dbsession, tender, actor=buyer, now=published)
    return tender


def _opened(dbsession, clock, registry, title: str, *, days_ago: int, **details) -> Tender:
    """A tender published, bid on by the three demo organisations (fees and securities paid)
    and opened by its committee ``days_ago`` days ago (today, an hour ago, when 0), with the
    committee's quality scores entered by the buyer half an hour after the opening."""
    now = clock.now()
    if days_ago:
        opened_at = _at(clock, -days_ago, 12)
        bids_until, opening_at = _at(clock, -days_ago, 10), _at(clock, -days_ago, 11)
    else:
        opened_at = now - dt.timedelta(hours=1)
        bids_until, opening_at = now - dt.timedelta(hours=3), now - dt.timedelta(hours=2)
    tender = _tender(
        dbsession,
        clock,
        title=title,
        published_days_ago=days_ago + 30,
        periods=(_at(clock, -days_ago - 20, 12), bids_until, opening_at),
        criteria=[("Price", 60, True), (QUALITY, 40, False)],
        fee=50_00,
        deposit=1_000_00,
        **details,
    )
    assert tender.questions_until is not None
    state.advance(dbsession, tender, tender.questions_until)
    offers = AFTER_OPENING[title]
    _sealed_bids(
        dbsession,
        registry,
        tender,
        bids_until - dt.timedelta(days=3),
        clock.timezone,
        {name_id: (number, price) for name_id, (number, price, _points) in offers.items()},
    )
    state.advance(dbsession, tender, bids_until)
    vault = registry["pii_vault"]
    for name_id in OPENERS:
        member = _user(dbsession, name_id)
        unlocked = opening.unlock(
            dbsession, tender, member, COMMITTEE_PASSPHRASES[name_id], vault, opened_at
        )
    assert unlocked.opened, f"the demo committee did not open {title}"
    opening.issue_protocol(document_issuer(registry), dbsession, tender, member, opened_at)
    (criterion,) = evaluation.quality_criteria(tender)
    points = {_organisation(dbsession, number).id: p for number, _price, p in offers.values()}
    evaluation.record_scores(
        dbsession,
        tender,
        {
            evaluation.score_field(bid.public_id, criterion): points[bid.organisation_id]
            for bid in tender.bids
        },
        now=opened_at + dt.timedelta(minutes=30),
        actor=_user(dbsession, BUYER),
    )
    return tender


def _awarded(dbsession, clock, registry, tender: Tender, at: dt.datetime) -> Award:
    """The buyer qualifies the best-ranked bid ``at`` and awards it a day later."""
    buyer = _user(dbsession, BUYER)
    examined = qualification.standing(dbsession, tender).examined
    assert examined is not None
    qualification.decide(
        dbsession,
        tender,
        bid_public_id=examined.bid.public_id,
        outcome=QUALIFIED,
        reason="Registration, turnover and references checked against the terms: all met.",
        now=at,
        actor=buyer,
    )
    return award.make_award(
        dbsession,
        tender,
        bid_public_id=examined.bid.public_id,
        reasons=(
            "The best price-quality ratio of the bids: the highest total of the price score "
            "and the committee's score, and the bidder is qualified."
        ),
        now=at + dt.timedelta(days=1),
        actor=buyer,
        days=award.standstill_days(registry.settings),
        timezone=clock.timezone,
    )


def _complained(dbsession, registry, tender: Tender, at: dt.datetime, timezone) -> None:
    """COMPLAINANT's complaint against the award, filed ``at`` and its fee paid: registered,
    it waits for the reviewer."""
    representative = _user(dbsession, COMPLAINANT)
    organisation = _organisation(dbsession, AFTER_OPENING[tender.title][COMPLAINANT][0])
    complaint = complaints.file_complaint(
        dbsession,
        tender,
        organisation,
        user=representative,
        text=(
            "The committee scored our method statement 30 of 40 without saying why; the "
            "winner's statement names no team for night work, which the terms require. We ask "
            "for the award to be withdrawn and the quality scores given again with reasons."
        ),
        uploads=[
            files.Upload(
                "method-statement-comparison.pdf",
                "application/pdf",
                _pdf("Complaint", f"Method statements compared, tender {tender.reference}."),
            )
        ],
        now=at,
        timezone=timezone,
    )
    assert complaint.fee_bill is not None
    demo_payments.pay(
        dbsession,
        registry,
        [complaint.fee_bill],
        user=representative,
        organisation=organisation,
        now=at + dt.timedelta(minutes=15),
    )


def _contracted(dbsession, clock, tender: Tender, won: Award, at: dt.datetime) -> None:
    """The buyer records the signed contract ``at`` (the standstill over without complaint)."""
    state.advance(dbsession, tender, won.standstill_until)  # the clock's job, at its end
    signed_on = at.astimezone(clock.timezone).date() - dt.timedelta(days=1)
    document = files.Upload(
        f"{tender.reference} contract.pdf",
        "application/pdf",
        _pdf(
            f"Contract for {tender.title}",
            f"Signed on {signed_on.isoformat()} by the city and {won.bid.organisation.name}, "
            f"for the awarded value.",
        ),
    )
    contract.record_contract(
        dbsession,
        tender,
        contract.SignedContract(won.value_minor, signed_on, document),
        actor=_user(dbsession, BUYER),
        now=at,
    )


def _after_opening(dbsession, clock, registry, existing: set[str]) -> None:
    """The three tenders after their opening (README, "A tour of the demo")."""
    if EVALUATION_TENDER not in existing:
        _opened(
            dbsession,
            clock,
            registry,
            EVALUATION_TENDER,
            days_ago=0,
            description=(
                "Milling and resurfacing of 6.2 km of streets in the Riverside district, with "
                "kerbs, drainage gullies and road markings renewed, traffic kept moving."
            ),
            items=[("Road resurfacing", "45233223-8", "6.2", "km", 420_000_00)],
        )
    if STANDSTILL_TENDER not in existing:
        tender = _opened(
            dbsession,
            clock,
            registry,
            STANDSTILL_TENDER,
            days_ago=8,
            description=(
                "Ploughing and gritting of 310 km of municipal roads from November to March, "
                "main roads clear by 6:00 after a snowfall, a 24-hour call-out line."
            ),
            items=[("Snow clearing and gritting", "90620000-9", "5", "months", 185_000_00)],
        )
        _awarded(dbsession, clock, registry, tender, _at(clock, -4, 10))
        _complained(dbsession, registry, tender, _at(clock, -1, 15), clock.timezone)
    if COMPLETE_TENDER not in existing:
        tender = _opened(
            dbsession,
            clock,
            registry,
            COMPLETE_TENDER,
            days_ago=45,
            description=(
                "Desks, chairs and storage for 120 workplaces of the town hall, delivered and "
                "assembled floor by floor over the summer, with a five-year warranty."
            ),
            items=[("Office furniture", "39130000-2", "120", "workplaces", 65_000_00)],
        )
        won = _awarded(dbsession, clock, registry, tender, _at(clock, -42, 10))
        _contracted(dbsession, clock, tender, won, _at(clock, -25, 14))


def load(dbsession, clock, registry) -> None:
    """Create the demo tenders if they are missing (``registry``: the app's, whose document
    issuer gives the sealed bids their receipts)."""
    existing = set(dbsession.scalars(select(Tender.title)))
    if OPEN_TENDER not in existing:
        tender = _tender(
            dbsession,
            clock,
            title=OPEN_TENDER,
            description=(
                "Daily hot lunches for the city's six primary schools (about 2,400 pupils) "
                "for the school years 2027-2028, cooked within 30 km and delivered by 11:30."
            ),
            published_days_ago=5,
            periods=(_at(clock, 4, 12), _at(clock, 14, 10), _at(clock, 14, 11)),
            criteria=[
                ("Price", 70, True),
                ("Nutritional quality of the sample menus", 20, False),
                ("Delivery plan and reliability", 10, False),
            ],
            items=[("School lunches", "55524000-9", "420000", "meals", 1_260_000_00)],
            fee=50_00,
            deposit=500_00,
        )
        _drafts(dbsession, tender, clock.now() - dt.timedelta(days=1), clock.timezone)
    if CLOSED_TENDER not in existing:
        tender = _tender(
            dbsession,
            clock,
            title=CLOSED_TENDER,
            description=(
                "Maintenance of 4,800 street lights for two years: inspections, repairs within "
                "48 hours, and replacement of failed lamps with LED units."
            ),
            published_days_ago=30,
            periods=(
                _at(clock, -20, 12),
                clock.now() - dt.timedelta(hours=2),
                clock.now() - dt.timedelta(hours=1),
            ),
            criteria=[],
            items=[("Street lighting maintenance", "50232100-1", "24", "months", 190_000_00)],
            fee=0,
            deposit=0,
            # opened on the tour, its two bids go to an auction procurement.auction_delay_minutes
            # later, in which Olga and Peter bid each other down
            auction_step=1_000_00,
        )
        assert tender.questions_until is not None and tender.bids_until is not None
        state.advance(dbsession, tender, tender.questions_until)
        _sealed_bids(
            dbsession, registry, tender, clock.now() - dt.timedelta(days=5), clock.timezone
        )
        state.advance(dbsession, tender, tender.bids_until)
    _after_opening(dbsession, clock, registry, existing)
