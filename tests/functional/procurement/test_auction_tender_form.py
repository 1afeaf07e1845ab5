"""The buyer declares the auction on the tender form: its minimum step as an amount or a
percentage, checked like the other fields, kept on the draft, shown on the public page."""

from __future__ import annotations

import datetime as dt

from tests.functional.procurement import buyer_support
from tests.functional.procurement.buyer_support import (
    committee_index,
    fill_complete,
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


def test_bad_auction_steps_are_refused_and_change_nothing(bruno, dbsession, committee, clock):
    page = start_tender(bruno)
    cases = [
        ("amount", "0", "Enter the minimum step as an amount above zero in EUR"),
        ("amount", "five hundred", "Enter the minimum step as an amount above zero in EUR"),
        ("amount", "", "Enter the minimum step as an amount above zero in EUR"),
        ("percent", "0", "Enter the minimum step as a percentage from 0.01 to 10"),
        ("percent", "12", "Enter the minimum step as a percentage from 0.01 to 10"),
        ("percent", "0.125", "Enter the minimum step as a percentage from 0.01 to 10"),
        ("percent", "NaN", "Enter the minimum step as a percentage from 0.01 to 10"),
    ]
    for kind, step, message in cases:
        form = page.forms["tender-form"]
        fill_complete(form, committee[:3], dt.date(2027, 2, 10))
        form["auction"] = True
        form["auction_step_kind"] = kind
        form["auction_step"] = step
        refused = form.submit("action", value="save", status=422)
        assert message in refused.text, (kind, step)
        assert 'id="form-errors"' in refused.text
        again = refused.forms["tender-form"]
        assert again["auction"].checked and again["auction_step"].value == step
    tender = tender_of(dbsession, reference_of(page))
    assert not tender.auction_enabled and tender.items == []


def test_the_auction_is_saved_shown_again_and_published(bruno, dbsession, committee, clock):
    page = start_tender(bruno)
    reference = reference_of(page)
    form = page.forms["tender-form"]
    fill_complete(form, committee[:3], dt.date(2027, 2, 10))
    form["auction"] = True
    form["auction_step_kind"] = "percent"
    form["auction_step"] = "0,5"
    form.submit("action", value="save", status=303)
    tender = tender_of(dbsession, reference)
    assert tender.auction_enabled
    assert (tender.auction_step_basis_points, tender.auction_step_minor) == (50, None)

    form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
    assert form["auction"].checked and form["auction_step_kind"].value == "percent"
    assert form["auction_step"].value == "0.5"
    form["auction_step_kind"] = "amount"
    form["auction_step"] = "1,250.00"
    form.submit("action", value="save", status=303)
    tender = tender_of(dbsession, reference)
    assert (tender.auction_step_basis_points, tender.auction_step_minor) == (None, 1_250_00)
    overview = bruno.get(f"/procurement/tenders/{reference}")
    assert "Yes; minimum step €1,250.00" in overview.text

    # without the box ticked there is no auction, whatever the step says
    form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
    form["auction"] = False
    form.submit("action", value="save", status=303)
    tender = tender_of(dbsession, reference)
    assert not tender.auction_enabled and tender.auction_step_minor is None

    form = bruno.get(f"/procurement/tenders/{reference}/edit").forms["tender-form"]
    form["auction"] = True
    form["auction_step_kind"] = "amount"
    form["auction_step"] = "500"
    form.get("committee", index=committee_index(form, str(committee[3].id))).checked = False
    form.submit("action", value="save", status=303)
    bruno.get(f"/procurement/tenders/{reference}").forms["publish-form"].submit(status=303)
    public = bruno.get(f"/tenders/{reference}", status=200)
    fact = public.html.select_one("#auction-fact").get_text()
    assert fact == "Yes; minimum step €500.00"
