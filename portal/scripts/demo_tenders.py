"""The procurement part of the demo world: a committee with keys, a tender open for bids and a
tender past its deadline whose sealed bids wait for the committee.

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
from portal.identity.models import Department, Organisation, User
from portal.money import Money
from portal.procurement import bids, files, state
from portal.procurement.committee_keys import create_committee_key
from portal.procurement.models import (
    BEST_VALUE,
    LOWEST_PRICE,
    CommitteeKey,
    CommitteeSeat,
    Tender,
    TenderCriterion,
    TenderDocument,
    TenderItem,
)
from portal.procurement.tenders import new_tender, publish

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


def _sealed_bids(dbsession, registry, tender: Tender, at: dt.datetime, timezone) -> None:
    """Each demo organisation's bid on ``tender``, submitted (sealed) ``at``."""
    then = _Then(at, timezone)
    for name_id, (number, price) in BIDDERS.items():
        representative = _user(dbsession, name_id)
        organisation = _organisation(dbsession, number)
        bid = bids.start_bid(
            dbsession, tender, organisation, user=representative, now=at, timezone=timezone
        )
        vault = registry["pii_vault"]
        bids.save_draft(bid, Money(price, tender.currency), {}, now=at, vault=vault)
        offer = files.Upload(
            "offer.pdf",
            "application/pdf",
            _pdf(f"{organisation.name}: offer for {tender.reference}", tender.title),
        )
        bids.add_document(dbsession, bid, offer, now=at, vault=vault)
        bids.submit_bid(dbsession, registry, bid, user=representative, clock=then, locale="en")


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
        )
        assert tender.questions_until is not None and tender.bids_until is not None
        state.advance(dbsession, tender, tender.questions_until)
        _sealed_bids(
            dbsession, registry, tender, clock.now() - dt.timedelta(days=5), clock.timezone
        )
        state.advance(dbsession, tender, tender.bids_until)
