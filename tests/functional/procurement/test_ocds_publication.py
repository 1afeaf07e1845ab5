"""OCDS before the opening: a draft publishes nothing, publication and each amendment are
releases that never change afterwards, and nothing of a bid shows."""

from __future__ import annotations

from portal.procurement import state
from portal.procurement.amendments import record_amendment
from portal.procurement.ocds.schemas import compile_releases
from portal.procurement.tenders import cancel_tender
from tests import factories
from tests.functional.api.conftest import conforms
from tests.functional.procurement.buyer_support import LJUBLJANA
from tests.functional.procurement.ocds_support import packages, people_in, tags

LIST = "/api/v1/ocds/tenders"


def test_a_draft_publishes_nothing_and_is_not_listed(testapp, dbsession, clock):
    draft = factories.tender(dbsession, now=clock.now(), published=False)
    dbsession.commit()
    for kind in ("releases", "record"):
        response = testapp.get(f"/api/v1/ocds/tenders/{draft.reference}/{kind}", status=404)
        assert conforms(response, f"{LIST}/{{reference}}/{kind}")["status"] == 404
    listed = testapp.get("/api/v1/ocds/tenders", status=200).json["tenders"]
    assert draft.reference not in [entry["reference"] for entry in listed]
    testapp.get("/api/v1/ocds/tenders/T-2099-999999/releases", status=404)
    testapp.get("/api/v1/ocds/tenders/nonsense/record", status=404)


def test_publication_and_amendment_are_releases_that_never_change(
    testapp, dbsession, clock, wsgi_app
):
    tender = factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    listed = conforms(testapp.get("/api/v1/ocds/tenders", status=200), LIST)["tenders"]
    for kind in ("releases", "record"):
        conforms(
            testapp.get(f"/api/v1/ocds/tenders/{tender.reference}/{kind}", status=200),
            f"{LIST}/{{reference}}/{kind}",
        )
    entry = next(entry for entry in listed if entry["reference"] == tender.reference)
    assert entry["ocid"] == f"ocds-000000-{tender.reference}"
    assert entry["releasePackage"].endswith(f"/api/v1/ocds/tenders/{tender.reference}/releases")

    published, record = packages(testapp, tender.reference)
    assert tags(published) == [["tender"]]
    first = published["releases"][0]
    assert first["id"] == f"ocds-000000-{tender.reference}-tender-1"
    assert first["tender"]["status"] == "active"
    assert first["tender"]["value"] == {"amount": 250000.0, "currency": "EUR"}
    assert first["tender"]["items"][0]["classification"] == {"scheme": "CPV", "id": "45233252-0"}
    assert first["tender"]["mainProcurementCategory"] == "works"
    assert first["tender"]["awardCriteria"] == "priceOnly"
    assert first["buyer"]["name"] == "Public Procurement Office"
    assert "tenderers" not in first["tender"] and "numberOfTenderers" not in first["tender"]
    assert record["records"][0]["compiledRelease"]["tag"] == ["compiled"]

    clock.advance(days=1)
    tender.description = "Resurfacing of 1.5 km of Main Street."
    tender.estimated_value_minor = 300_000_00
    buyer = factories.user(dbsession, "buyer-bruno")
    record_amendment(
        dbsession,
        tender,
        [{"field": "description", "before": "1.2 km", "after": "1.5 km"}],
        reason="The street is longer than measured.",
        actor=buyer,
        now=clock.now(),
        timezone=LJUBLJANA,
        settings=wsgi_app.registry.settings,
    )
    dbsession.commit()

    amended, record = packages(testapp, tender.reference)
    assert tags(amended) == [["tender"], ["tenderAmendment"]]
    assert amended["releases"][0] == first, "a release never changes once published"
    second = amended["releases"][1]
    assert second["id"].endswith("-tender-2")
    assert second["tender"]["value"]["amount"] == 300000.0
    assert second["tender"]["amendments"] == [
        {
            "id": "2",
            "date": second["date"],
            "rationale": "The street is longer than measured.",
            "description": "description: 1.2 km → 1.5 km",
            "amendsReleaseID": first["id"],
            "releaseID": second["id"],
        }
    ]
    compiled = compile_releases(amended["releases"])
    assert compiled == record["records"][0]["compiledRelease"]
    assert compiled["tender"]["description"] == "Resurfacing of 1.5 km of Main Street."
    assert [link["url"].rsplit("#", 1)[1] for link in record["records"][0]["releases"]] == [
        first["id"],
        second["id"],
    ]
    assert people_in(dbsession, amended) == [] and people_in(dbsession, record) == []


def test_a_cancelled_tender_ends_with_a_cancellation_release(testapp, dbsession, clock):
    tender = factories.tender(dbsession, now=clock.now())
    never_published = factories.tender(dbsession, now=clock.now(), published=False)
    buyer = factories.user(dbsession, "buyer-bruno")
    clock.advance(days=2)
    cancel_tender(dbsession, tender, actor=buyer, reason="Budget withdrawn.", now=clock.now())
    state.transition(dbsession, never_published, state.CANCELLED, now=clock.now(), actor=buyer)
    dbsession.commit()

    cancelled, record = packages(testapp, tender.reference)
    assert tags(cancelled) == [["tender"], ["tenderCancellation"]]
    assert cancelled["releases"][-1]["tender"] == {"id": tender.reference, "status": "cancelled"}
    compiled = record["records"][0]["compiledRelease"]
    assert compiled["tender"]["status"] == "cancelled"
    assert compiled["tender"]["title"] == tender.title
    assert "tenderers" not in compiled["tender"]

    testapp.get(f"/api/v1/ocds/tenders/{never_published.reference}/releases", status=404)
    listed = testapp.get("/api/v1/ocds/tenders", status=200).json["tenders"]
    assert never_published.reference not in [entry["reference"] for entry in listed]
