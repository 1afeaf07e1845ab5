"""Only the tender's own department's buyers manage it: a citizen, a business representative
and a buyer of another department are refused (a draft is not even found)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from portal.procurement.tenders import new_tender
from tests import factories
from tests.functional.procurement import buyer_support
from tests.functional.procurement.buyer_support import START

procurement = buyer_support.procurement


@pytest.fixture
def tenders(dbsession, procurement):
    """A draft and a published tender of procurement, and a draft and a published one of the
    revenue office (whose buyers Bruno is not one of)."""
    draft = factories.tender(dbsession, now=START, published=False, title="Draft works")
    published = factories.tender(dbsession, now=START, title="Published works")
    revenue = factories.department(dbsession, "revenue")
    other_draft = new_tender(
        dbsession,
        department=revenue,
        actor=draft.created_by,
        title="Cash counting machines",
        now=START,
        timezone=ZoneInfo("Europe/Ljubljana"),
    )
    other = factories.tender(dbsession, now=START, title="Vault doors")
    other.department = revenue
    dbsession.commit()
    return draft.reference, published.reference, other_draft.reference, other.reference


PAGES = ["", "/edit", "/amend"]
ACTIONS = ["/publish", "/cancel", "/documents", "/amend", "/edit"]


@pytest.mark.parametrize("persona", ["citizen-ana", "rep-olga"])
def test_citizens_and_bidders_cannot_manage_tenders(signed_in, tenders, clock, persona):
    clock.set(START)
    app = signed_in(persona)
    draft, published, _other_draft, _other = tenders
    app.get("/procurement/tenders", status=403)
    app.post("/procurement/tenders/new", {"title": "Mine"}, status=403)
    for suffix in PAGES:
        app.get(f"/procurement/tenders/{draft}{suffix}", status=404)
        app.get(f"/procurement/tenders/{published}{suffix}", status=403)
    token = app.get("/account").html.find("input", {"name": "csrf_token"})["value"]
    for suffix in ACTIONS:
        app.post(f"/procurement/tenders/{draft}{suffix}", {"csrf_token": token}, status=404)
        app.post(f"/procurement/tenders/{published}{suffix}", {"csrf_token": token}, status=403)
    assert "Tender management" not in app.get("/account").text


def test_a_buyer_of_another_department_cannot_manage_its_tenders(
    signed_in, tenders, clock, dbsession
):
    clock.set(START)
    app = signed_in("buyer-bruno")
    draft, published, other_draft, other = tenders
    listing = app.get("/procurement/tenders")
    assert draft in listing.text and published in listing.text
    assert other_draft not in listing.text and other not in listing.text
    for suffix in PAGES:
        app.get(f"/procurement/tenders/{other_draft}{suffix}", status=404)
        app.get(f"/procurement/tenders/{other}{suffix}", status=403)
    token = listing.html.find("input", {"name": "csrf_token"})["value"]
    for suffix in ACTIONS:
        app.post(f"/procurement/tenders/{other}{suffix}", {"csrf_token": token}, status=403)
    dbsession.expire_all()
    assert buyer_support.tender_of(dbsession, other).status == "questions"
