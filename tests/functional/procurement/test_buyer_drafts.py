"""The buyer prepares a draft: every bad answer is refused with the form again and changes
nothing; publishing is refused while the draft is incomplete, then works."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.procurement.models import TenderTransition
from tests.functional.procurement import buyer_support
from tests.functional.procurement.buyer_support import (
    committee_index,
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


def reference_of(page) -> str:
    return page.request.path.split("/")[3]


def test_a_new_tender_is_a_draft_on_the_buyers_list(bruno, dbsession, clock):
    page = start_tender(bruno)
    reference = reference_of(page)
    assert reference.startswith("T-2027-")
    listing = bruno.get("/procurement/tenders")
    assert reference in listing.text and "Draft" in listing.text
    assert "Tender management" in listing.text  # the navigation item
    tender = tender_of(dbsession, reference)
    assert tender.status == "draft" and tender.title == "Road resurfacing, Main Street"


def test_a_tender_without_a_title_is_refused(bruno, dbsession, clock):
    form = bruno.get("/procurement/tenders").forms["new-tender"]
    form["title"] = "  "
    page = form.submit(status=422)
    assert "Give the tender a title." in page.text and 'id="form-errors"' in page.text


def test_bad_answers_are_refused_field_by_field_and_change_nothing(
    bruno, dbsession, committee, clock
):
    page = start_tender(bruno)
    reference = reference_of(page)
    cases = [
        ("estimated_value", "12,34,5", "Enter an amount of zero or more in EUR"),
        ("bid_fee", "-5", "Enter an amount of zero or more in EUR"),
        ("deposit", "10.001", "Enter an amount of zero or more in EUR"),
        ("item-1-cpv", "4523325-0", "Enter the CPV code as eight digits"),
        ("item-1-quantity", "0", "Enter a quantity above zero"),
        ("item-1-quantity", "1.0001", "Enter a quantity above zero"),
        ("bids_until-time", "25:00", "Enter the time as hours and minutes"),
        ("bids_until-month", "13", "Enter a real date"),
        ("committee_threshold", "1", "Enter how many members must open the bids"),
        ("committee_threshold", "4", "The threshold cannot be more than the number"),
        ("title", "", "Give the tender a title."),
        ("description", "x" * 20_001, "Keep this under 20000 characters."),
    ]
    for field, value, message in cases:
        form = page.forms["tender-form"]
        fill_complete(form, committee[:3], dt.date(2027, 2, 10))
        form[field] = value
        refused = form.submit("action", value="save", status=422)
        assert message in refused.text, field
        assert 'id="form-errors"' in refused.text and "usa-error-message" in refused.text
        assert refused.text.count("<h1") == 1
        # what was typed is shown again
        assert "Asphalt resurfacing" in refused.text
    tender = tender_of(dbsession, reference)
    assert tender.items == [] and tender.bids_until is None and tender.committee == []


def test_periods_out_of_order_and_weights_not_summing_to_100_are_refused(
    bruno, dbsession, committee, clock
):
    page = start_tender(bruno)
    form = page.forms["tender-form"]
    fill_complete(form, committee[:3], dt.date(2027, 2, 10))
    set_local(form, "opening_at", dt.date(2027, 2, 19), "09:00")
    form["award_criterion"] = "best_value"
    form["price_weight"] = "60"
    form["criterion-1-name"] = "Warranty"
    form["criterion-1-weight"] = "30"
    refused = form.submit("action", value="save", status=422)
    assert "The opening may not be before the deadline." in refused.text
    assert "must sum to 100" in refused.text
    assert tender_of(dbsession, reference_of(page)).criteria == []


def test_rows_are_added_without_javascript(bruno, committee, clock):
    page = start_tender(bruno)
    form = page.forms["tender-form"]
    form["item-1-description"] = "Asphalt resurfacing"
    again = form.submit("action", value="add_item", status=200)
    assert "item-2-description" in again.forms["tender-form"].fields
    assert again.forms["tender-form"]["item-1-description"].value == "Asphalt resurfacing"


def test_publishing_is_refused_while_incomplete_then_works(bruno, dbsession, committee, clock):
    page = start_tender(bruno)
    reference = reference_of(page)
    overview = bruno.get(f"/procurement/tenders/{reference}")
    refused = overview.forms["publish-form"].submit(status=422)
    assert "Add at least one item to buy." in refused.text
    assert "Set the questions period" in refused.text
    assert tender_of(dbsession, reference).status == "draft"

    # Dan has no committee key yet: the form says so, and publishing is refused
    form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
    assert "has not set up a committee key yet" in form.text
    fill_complete(form, committee, dt.date(2027, 2, 10))
    form.submit("action", value="save", status=303)
    refused = (
        bruno.get(f"/procurement/tenders/{reference}").forms["publish-form"].submit(status=422)
    )
    assert "have not set up their committee key yet: Dan Kralj" in refused.text

    form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
    form.get("committee", index=committee_index(form, str(committee[3].id))).checked = False
    form["award_criterion"] = "best_value"
    form["price_weight"] = "70"
    form["criterion-1-name"] = "Warranty"
    form["criterion-1-weight"] = "30"
    form.submit("action", value="save", status=303)
    tender = tender_of(dbsession, reference)
    assert tender.estimated_value_minor == 250_000_00
    assert tender.bid_fee_minor == 50_00 and tender.deposit_minor == 1_000_00
    assert [(c.name, c.weight, c.is_price) for c in tender.criteria] == [
        ("Price", 70, True),
        ("Warranty", 30, False),
    ]
    assert [i.cpv_code for i in tender.items] == ["45233252-0"]

    published = (
        bruno.get(f"/procurement/tenders/{reference}").forms["publish-form"].submit(status=303)
    )
    page = bruno.get(published.location)
    tender = tender_of(dbsession, reference)
    assert tender.status == "questions" and tender.version == 1
    assert tender.public_key is not None
    assert all(seat.encrypted_share for seat in tender.committee)
    transition = dbsession.scalar(
        select(TenderTransition).where(TenderTransition.tender_id == tender.id)
    )
    assert (transition.to_status, transition.cause) == ("questions", "published")
    assert "Bruno Bregar" in page.text and "Version 1" in page.text
    assert "8400 m²" in page.html.find(id="items-table").text
    assert "Bids submitted" in page.text
    # a published tender is no longer edited, but amended
    bruno.get(f"/procurement/tenders/{reference}/edit", status=409)


def test_a_refused_group_of_boxes_is_linked_and_names_its_message(
    bruno, dbsession, committee, clock
):
    """A group of boxes refused (the award criterion, the committee: a value no box offers,
    as a tampered form sends) is linked from the summary to the group, which names its
    message for a screen reader."""
    page = start_tender(bruno)
    form = page.forms["tender-form"]
    fill_complete(form, committee[:2], dt.date(2027, 2, 10))
    form["award_criterion"].force_value("cheapest")
    form.get("committee", index=committee_index(form, str(committee[0].id))).force_value("x")
    refused = form.submit("action", value="save", status=422)
    summary = refused.html.find(id="form-errors")
    targets = [link["href"].removeprefix("#") for link in summary.find_all("a")]
    assert targets == ["award_criterion", "committee"]
    for target in targets:
        field = refused.html.find(id=target)
        message = refused.html.find(id=f"{target}-error")
        assert field is not None and message is not None and message.get_text(strip=True), target
        if field.name != "h2":  # a heading is no control to describe
            assert f"{target}-error" in field.get("aria-describedby", "").split(), field
