"""An administrator processes Ana's erasure request end to end: she is found, the page says
what goes and what the law keeps until when, the confirmation removes it, and the ledger, the
receipts and /verify still hold."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from portal.applications.models import Application
from portal.audit.models import AuditEntry
from portal.billing.models import Payment
from portal.identity.models import User, WebSession
from tests.functional.applications.conftest import post
from tests.functional.privacy.conftest import (
    assert_receipts_still_hold,
    audit_chain_verifies,
    decision_notes,
    ledger,
    personal_details_of,
    receipts,
)


def found_link(admin, query: str):
    page = admin.get("/admin/privacy/erasure")
    form = page.forms["erasure-search"]
    form["query"] = query
    return form.submit(status=200)


def test_an_erasure_request_end_to_end(
    paid,
    applications,
    audited,
    case,
    ana,
    payer,
    dbsession,
    browser,
    devidp,
    testapp,
    keys_dir,
    caplog,
):
    caplog.set_level(logging.INFO, logger="portal.privacy")
    balances, kept_receipts = ledger(dbsession), receipts(dbsession)
    admin = browser(devidp, "admin-ada")

    results = found_link(admin, "19800101-1234")  # by national identifier
    assert "Novak" in results.text
    assert "19800101" not in results.request.url
    page = results.click(href=f"/admin/privacy/erasure/{ana.id}$")
    removed = page.html.find(id="erasure-removed").get_text(" ", strip=True)
    assert "Name and e-mail address" in removed and "National identifier" in removed
    assert "Applications never submitted 1" in removed
    kept = page.html.find(id="erasure-kept").get_text(" ", strip=True)
    assert "Payments and refunds" in kept and "Receipts and credit notes" in kept
    assert "Accounting and tax law" in kept and "Submitted applications" in kept
    assert "Audit entries" in kept and "Personal details in audit entries 1" in removed
    assert "Cases, their notes and attachments" in kept
    until = paid.created_at.year + 10
    assert str(until) in kept

    # not confirmed: nothing changes
    refused = page.forms["erasure-form"].submit(status=422)
    assert "Confirm that you checked the request" in refused.text
    dbsession.expire_all()
    assert dbsession.get(User, ana.id).family_name == "Novak"

    form = page.forms["erasure-form"]
    form["confirm"].checked = True
    done = form.submit(status=303).follow()
    assert "This person&#39;s data was erased" in done.text or "data was erased" in done.text
    assert f"erasure request processed for account {ana.id}" in caplog.text
    assert "Novak" not in caplog.text

    dbsession.expire_all()
    erased = dbsession.get(User, ana.id)
    assert (erased.given_name, erased.family_name, erased.email) == ("", "", "")
    assert erased.national_id_hash is None and erased.national_id_encrypted is None
    assert erased.name_id != "citizen-ana" and erased.idp_entity_id == "erased"
    assert not dbsession.scalars(select(WebSession).where(WebSession.user_id == ana.id)).all()
    assert dbsession.get(Application, applications["draft"]) is None
    assert dbsession.get(Application, applications["decided"]) is not None
    assert "Novak" not in done.text and "Kept until" in done.text
    # signed out, and no longer found
    payer.app.get("/account", status=303)
    assert (
        found_link(admin, "Novak").html.find(id="erasure-found").get_text(strip=True) == "Nobody."
    )
    # what the law keeps is whole
    assert ledger(dbsession) == balances
    assert dbsession.get(Payment, paid.id).payer_user_id == ana.id
    assert_receipts_still_hold(dbsession, kept_receipts, testapp, keys_dir)
    assert personal_details_of(dbsession, ana.id) == []
    assert audit_chain_verifies(dbsession)
    erasure = dbsession.scalars(
        select(AuditEntry).where(AuditEntry.action == "privacy.erased")
    ).one()
    assert erasure.subject_id == ana.id and erasure.details["removed"]["application_drafts"] == 1
    # signing in again is a new account that knows nothing of the old one
    again = browser(devidp, "citizen-ana")
    data = json.loads(again.get("/account/data.json").text)
    assert data["payments"] == [] and data["receipts"] == [] and data["applications"] == []
    # a second request for the same account is refused
    post(admin, f"/admin/privacy/erasure/{ana.id}", {"confirm": "yes"}, status=409)


def test_an_erasure_waits_for_the_bills_still_open(ana, dbsession, browser, devidp):
    from tests import factories

    factories.bill(dbsession, ana, amount=50_00)
    dbsession.commit()
    admin = browser(devidp, "admin-ada")
    page = admin.get(f"/admin/privacy/erasure/{ana.id}")
    waits = page.html.find(id="erasure-waits").get_text()
    assert "Bills still open in this person's name: 1." in waits
    assert "erasure-form" not in page.forms
    answer = post(admin, f"/admin/privacy/erasure/{ana.id}", {"confirm": "yes"}, status=409)
    assert "once the bills are paid or cancelled" in answer.text
    dbsession.expire_all()
    kept = dbsession.get(User, ana.id)
    assert kept.family_name == "Novak" and kept.national_id_encrypted is not None


def test_erasure_needs_an_administrator_and_a_csrf_token(ana, payer, browser, devidp, dbsession):
    payer.app.get(f"/admin/privacy/erasure/{ana.id}", status=403)
    clerk = browser(devidp, "clerk-clara")
    clerk.get("/admin/privacy/erasure", status=403)
    admin = browser(devidp, "admin-ada")
    post(admin, f"/admin/privacy/erasure/{ana.id}", {"confirm": "yes"}, 400, with_token=False)
    admin.get("/admin/privacy/erasure/999999", status=404)
    admin.get("/admin/privacy/erasure/not-a-number", status=404)
    dbsession.expire_all()
    assert dbsession.get(User, ana.id).family_name == "Novak"


def test_an_administrator_cannot_erase_themselves(browser, devidp, dbsession):
    admin = browser(devidp, "admin-ada")
    ada = dbsession.scalar(select(User).where(User.name_id == "admin-ada"))
    page = admin.get(f"/admin/privacy/erasure/{ada.id}")
    assert "erasure-form" not in page.text
    post(admin, f"/admin/privacy/erasure/{ada.id}", {"confirm": "yes"}, status=403)


def test_a_search_needs_three_characters(browser, devidp):
    admin = browser(devidp, "admin-ada")
    form = admin.get("/admin/privacy/erasure").forms["erasure-search"]
    form["query"] = "ab"
    answer = form.submit(status=422)
    assert "three or more characters" in answer.text


def test_a_search_for_wildcards_finds_nobody(ana, browser, devidp):
    admin = browser(devidp, "admin-ada")
    found = found_link(admin, "%%%").html.find(id="erasure-found")
    assert found.get_text(strip=True) == "Nobody."
    assert "Novak" in found_link(admin, "ana nov").html.find(id="erasure-found").get_text()


def test_erasure_takes_the_clerks_reasons_about_the_persons_money(
    written_off, ana, dbsession, browser, devidp
):
    admin = browser(devidp, "admin-ada")
    post(admin, f"/admin/privacy/erasure/{ana.id}", {"confirm": "yes"}, status=303)
    assert decision_notes(dbsession, written_off) == (None, "", None, "approved")
