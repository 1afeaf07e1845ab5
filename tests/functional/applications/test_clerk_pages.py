"""What a clerk's page of an application shows: the applicant's national identifier masked
until the clerk asks to see it (and that is logged and audited), words written for the clerk, and a
certificate that prints only what it certifies."""

from __future__ import annotations

import logging
import subprocess

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from tests.functional.applications.conftest import post

ANA_NATIONAL_ID = "19800101-1234"
MASKED = "\u2022" * 7 + "1234"


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_the_national_identifier_is_masked_until_the_clerk_reveals_it(
    paid_application, clerk, caplog, dbsession
):
    review = clerk.get(f"/backoffice/applications/{paid_application}")
    assert review.html.find(id="national-id").text == MASKED
    assert ANA_NATIONAL_ID not in review.text
    assert "19800101" not in review.text

    caplog.set_level(logging.INFO)
    revealed = review.forms["reveal-form"].submit(status=200)
    assert revealed.html.find(id="national-id").text == ANA_NATIONAL_ID
    assert "reveal-form" not in revealed.text
    assert revealed.headers["Cache-Control"] == "no-store"
    looked = [r.getMessage() for r in caplog.records if r.name == "portal.applications.backoffice"]
    assert len(looked) == 1
    assert looked[0].startswith(
        f"national identifier of the applicant of application {paid_application} shown to user="
    )
    assert "19800101" not in caplog.text
    (entry,) = dbsession.scalars(
        select(AuditEntry).where(AuditEntry.action == "person.national_id_viewed")
    ).all()
    assert (entry.object_type, entry.object_id) == ("application", paid_application)
    assert entry.actor_id is not None and entry.subject_id is not None
    # the next visit is masked again
    assert (
        clerk.get(f"/backoffice/applications/{paid_application}").html.find(id="national-id").text
        == MASKED
    )


def test_revealing_needs_the_csrf_token_and_a_post(paid_application, clerk):
    url = f"/backoffice/applications/{paid_application}/national-id"
    refused = post(clerk, url, status=400, with_token=False)
    assert "19800101" not in refused.text
    assert "19800101" not in clerk.get(url, expect_errors=True).text


@pytest.mark.parametrize("who", ["clerk-clara", "citizen-ben", "citizen-ana"])
def test_only_the_departments_clerks_may_reveal_it(paid_application, browser, who):
    """Clara works for another department; Ben has nothing to do with it; Ana, the applicant,
    sees it on her own account page rather than on the clerks' page."""
    refused = post(
        browser(who), f"/backoffice/applications/{paid_application}/national-id", status=403
    )
    assert "19800101" not in refused.text


def test_the_applicant_still_sees_her_own_identifier_in_full(paid_application, citizen):
    assert ANA_NATIONAL_ID in citizen.get("/account").text


def test_the_clerks_page_speaks_of_the_applicant_not_to_them(paid_application, clerk, citizen):
    review = clerk.get(f"/backoffice/applications/{paid_application}")
    assert review.html.find(id="details-heading").text == "The applicant's answers"
    assert "Your answers" not in review.text
    mine = citizen.get(f"/applications/{paid_application}")
    assert mine.html.find(id="details-heading").text == "Your answers"


def test_the_certificate_does_not_print_the_clerks_note(paid_application, clerk, citizen):
    review = clerk.get(f"/backoffice/applications/{paid_application}")
    form = review.forms["approve-form"]
    form["note"] = "Drive safely."
    form.submit(status=303)
    mine = citizen.get(f"/applications/{paid_application}")
    assert "Drive safely." in mine.html.find(id="history").text  # the applicant's message
    text = pdf_text(mine.click(linkid="certificate-link").body)
    assert "Ana Novak" in text and "Truck" in text  # what it certifies
    assert "Drive safely" not in text and "Note" not in text


def test_the_clerks_page_leads_back_to_the_departments_applications(paid_application, clerk):
    review = clerk.get(f"/backoffice/applications/{paid_application}")
    crumbs = review.html.select(".usa-breadcrumb__list-item")
    labels = [c.text.strip() for c in crumbs]
    assert labels[:2] == ["Home", "Back office"] and labels[3:] == ["Applications", "Ana Novak"]
    assert crumbs[3].a["href"].endswith("/applications")
    rows = review.html.select("#applicant .portal-summary-list__row")
    assert [row.dt.text for row in rows] == ["Name", "National identifier", "Status"]
    assert rows[2].dd.find(class_="usa-tag")["id"] == "status"
