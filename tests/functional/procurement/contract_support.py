"""What the tests of the deposits and the contract share: an award made the way the award's
code makes it (its row, the tender moved on, the other bidders' securities given back), the
ledger's balances and the refunds, and the buyer's browser."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import webtest
from sqlalchemy import func, select

from portal.billing import ledger
from portal.billing.models import Refund
from portal.identity.models import User
from portal.procurement import deposit_movements, state
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import QUALIFIED, Award, QualificationDecision, Tender
from portal.procurement.prices import valid_bids
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import Opened
from tests.functional.procurement.bidding import pdf

HELD = "deposits:tender-bid-security"
KEPT = "revenue:tender-bid-security"
STANDSTILL = dt.timedelta(days=10)
LJUBLJANA = ZoneInfo("Europe/Ljubljana")
SAME_ORIGIN = {"Referer": "https://localhost/"}
SIGNED = pdf("Contract for the road resurfacing, signed by both parties")


def balance(dbsession, account: str) -> int:
    dbsession.expire_all()
    return ledger.account_balance(dbsession, account).get("EUR", 0)


def refunds(dbsession) -> list[Refund]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(Refund).order_by(Refund.id)))


def refund_count(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(Refund))


def award(wsgi_app, made: Opened, persona: str, now: dt.datetime, dbsession) -> int:
    """Qualify ``persona``'s bid and award the tender to it at ``now`` (standstill of ten
    days), giving the other bidders' securities back, in one committed transaction (after
    which the refunds go to the sandbox); returns the award's id."""
    bid_id = made.bid(dbsession, persona).id
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        buyer = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
        price = next(v.price for v in valid_bids(session, tender) if v.bid.id == bid_id)
        session.add(
            QualificationDecision(
                tender_id=tender.id,
                bid_id=bid_id,
                outcome=QUALIFIED,
                reason="Meets every requirement.",
                decided_at=now,
                decided_by_id=buyer.id,
            )
        )
        made_award = Award(
            tender_id=tender.id,
            bid_id=bid_id,
            value_minor=price.minor,
            currency=price.currency,
            reasons="The best-ranked qualified bid.",
            decided_at=now,
            decided_by_id=buyer.id,
            standstill_until=now + STANDSTILL,
        )
        session.add(made_award)
        session.flush()
        assert state.transition(session, tender, state.STANDSTILL, now=now, actor=buyer)
        deposit_movements.release_at_award(session, tender, made_award, now, buyer)
        award_id = made_award.id
    return award_id


def past_standstill(wsgi_app, clock) -> None:
    """Past the standstill of an award made now; the clock's job moves the tender on."""
    clock.advance(days=10, minutes=1)
    advance_tenders(wsgi_app.registry)


def record_contract(bruno, reference: str, clock, value="176,950.00"):
    """The buyer's contract form filled in: ``value``, signed today, the signed PDF."""
    form = bruno.get(f"/procurement/tenders/{reference}/contract").forms["contract-form"]
    today = clock.now().astimezone(LJUBLJANA).date()
    form["value"] = value
    form["signed_on-day"] = str(today.day)
    form["signed_on-month"] = str(today.month)
    form["signed_on-year"] = str(today.year)
    form["document"] = webtest.Upload("contract.pdf", SIGNED, "application/pdf")
    return form
