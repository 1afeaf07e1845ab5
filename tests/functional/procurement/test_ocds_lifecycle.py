"""OCDS from the opening to the contract: the packages are valid at every step, and the
record ocdsmerge compiles says where the tender ended. Awards and the contract are recorded
as rows with the lifecycle's own transitions (their flows live in other parts of procurement).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from portal.procurement import award as awards
from portal.procurement import state
from portal.procurement.models import AWARD_ACTIVE, Award, Contract, StoredFile
from portal.procurement.ocds.schemas import compile_releases
from tests import factories
from tests.functional.procurement.after_opening import opened_tender
from tests.functional.procurement.ocds_support import packages, people_in, tags

PRICES = {"rep-olga": "182400.00", "rep-peter": "176950.00", "rep-quinn": "190000.00"}


def _award(dbsession, made, persona, clock, value_minor) -> Award:
    buyer = factories.user(dbsession, "buyer-bruno")
    now = clock.now()
    award = Award(
        tender_id=made.tender.id,
        bid_id=made.bid(dbsession, persona).id,
        status=AWARD_ACTIVE,
        value_minor=value_minor,
        currency="EUR",
        reasons="Best price-quality score among the qualified bids.",
        decided_at=now,
        decided_by_id=buyer.id,
        standstill_until=now + dt.timedelta(days=10),
    )
    dbsession.add(award)
    state.transition(dbsession, made.tender, state.STANDSTILL, now=now, actor=buyer)
    dbsession.commit()
    return award


def _no_bid_prices(document: dict) -> bool:
    text = json.dumps(document)
    return not any(price.split(".")[0] in text for price in PRICES.values())


def test_packages_are_valid_at_every_step_and_the_record_ends_complete(
    wsgi_app, devidp, sandbox, dbsession, clock, testapp, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, prices=PRICES)
    tender = made.tender
    reference = tender.reference

    # published, before the opening, nothing of a bid shows: see the first release
    opened, _record = packages(testapp, reference)
    assert tags(opened) == [["tender"], ["tenderUpdate"]]
    before, at_opening = opened["releases"]
    assert "tenderers" not in before["tender"] and _no_bid_prices(before)
    assert [party["roles"] for party in before["parties"]] == [["buyer", "procuringEntity"]]
    assert at_opening["tender"]["numberOfTenderers"] == 3
    assert {t["id"] for t in at_opening["tender"]["tenderers"]} == {
        "XX-PORTAL-NW-100200",
        "XX-PORTAL-SG-300400",
        "XX-PORTAL-EB-500600",
    }
    assert at_opening["tender"]["awardCriteria"] == "ratedCriteria"
    assert _no_bid_prices(opened), "bids' prices are never published, only the award's value"

    # awarded to Southgate; a complaint is upheld and the award withdrawn
    clock.advance(days=2)
    first = _award(dbsession, made, "rep-peter", clock, 176_950_00)
    awarded, _record = packages(testapp, reference)
    assert awarded["releases"][-1]["tag"] == ["award"]
    assert awarded["releases"][-1]["awards"][0]["status"] == "pending"
    clock.advance(days=3)
    awards.withdraw_award(dbsession, tender, reason="Complaint upheld.", now=clock.now())
    dbsession.commit()
    withdrawn, _record = packages(testapp, reference)
    assert withdrawn["releases"][-1]["tag"] == ["awardCancellation"]
    assert withdrawn["releases"][:-1] == awarded["releases"], "earlier releases never change"

    # awarded again, to Northwind; the standstill passes with no complaint
    clock.advance(days=2)
    second = _award(dbsession, made, "rep-olga", clock, 182_400_00)
    clock.set(second.standstill_until + dt.timedelta(minutes=1))
    state.advance(dbsession, tender, clock.now())
    dbsession.commit()
    assert tender.status == state.CONTRACTING
    contracting, _record = packages(testapp, reference)
    assert contracting["releases"][-2]["tag"] == ["award"]
    assert contracting["releases"][-1]["tag"] == ["awardUpdate"]
    assert contracting["releases"][-1]["awards"] == [{"id": second.public_id, "status": "active"}]

    # the contract is signed and recorded: the tender is complete
    clock.advance(days=4)
    content = b"%PDF-1.7 signed contract"
    buyer = factories.user(dbsession, "buyer-bruno")
    stored = StoredFile(
        sha256=hashlib.sha256(content).hexdigest(),
        media_type="application/pdf",
        size=len(content),
        content=content,
        created_at=clock.now(),
    )
    dbsession.add(
        Contract(
            tender_id=tender.id,
            award_id=second.id,
            value_minor=182_400_00,
            currency="EUR",
            signed_on=clock.now().date(),
            file=stored,
            filename="contract.pdf",
            recorded_at=clock.now(),
            recorded_by_id=buyer.id,
        )
    )
    state.transition(dbsession, tender, state.COMPLETE, now=clock.now(), actor=buyer)
    dbsession.commit()

    complete, record = packages(testapp, reference)
    assert tags(complete) == [
        ["tender"],
        ["tenderUpdate"],
        ["award"],
        ["awardCancellation"],
        ["award"],
        ["awardUpdate"],
        ["contract"],
        ["tenderUpdate"],
    ]
    ids = [release["id"] for release in complete["releases"]]
    assert len(set(ids)) == len(ids)
    assert complete["publishedDate"] == complete["releases"][-1]["date"]

    compiled = record["records"][0]["compiledRelease"]
    assert compiled == compile_releases(complete["releases"])
    assert compiled["tender"]["status"] == "complete"
    assert compiled["tender"]["numberOfTenderers"] == 3
    assert {(a["id"], a["status"]) for a in compiled["awards"]} == {
        (first.public_id, "cancelled"),
        (second.public_id, "active"),
    }
    northwind = next(a for a in compiled["awards"] if a["id"] == second.public_id)
    assert northwind["value"] == {"amount": 182400.0, "currency": "EUR"}
    assert northwind["suppliers"] == [
        {"id": "XX-PORTAL-NW-100200", "name": northwind["suppliers"][0]["name"]}
    ]
    [contract] = compiled["contracts"]
    assert contract["awardID"] == second.public_id
    assert contract["status"] == "active"
    assert contract["value"] == {"amount": 182400.0, "currency": "EUR"}
    roles = {party["id"]: party["roles"] for party in compiled["parties"]}
    assert roles["XX-PORTAL-NW-100200"] == ["tenderer", "supplier"]
    assert roles["XX-PORTAL-EB-500600"] == ["tenderer"]
    assert people_in(dbsession, complete) == [] and people_in(dbsession, record) == []
