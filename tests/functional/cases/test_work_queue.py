"""The clerks' one queue: their departments' cases only (administrators see all), filtered and
sorted with the overdue first; a case claimed, handed to a colleague, noted, given a file and
closed, each change refused when it is not the clerk's to make or comes from a stale page."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.cases.models import CaseAssignment, CaseNote
from portal.cases.work import decide_case_about
from portal.tasks import task_dbsession
from tests.error_summary import assert_error_summary
from tests.functional.cases.conftest import post, the_case

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def rows(page) -> list[str]:
    return [row["data-case"] for row in page.html.select("tr.case-row")]


def test_clerks_see_their_departments_cases_and_administrators_all(browser, make_case):
    clara, dan, ada = browser("clerk-clara"), browser("clerk-dan"), browser("admin-ada")
    revenue = make_case("revenue", subject_id="pay_r")
    registry = make_case("registry", subject_id="pay_g")
    nobodys = make_case(None, kind="settlement_discrepancy", subject_id="2026-12-01:x")

    assert rows(clara.get("/backoffice/cases")) == [revenue]
    assert rows(dan.get("/backoffice/cases")) == [registry]
    assert set(rows(ada.get("/backoffice/cases"))) == {revenue, registry, nobodys}
    assert rows(ada.get("/backoffice/cases", {"department": "registry"})) == [registry]
    assert rows(ada.get("/backoffice/cases", {"kind": "settlement_discrepancy"})) == [nobodys]
    # the start page leads to the queue
    assert clara.get("/backoffice").click(linkid="work-queue-link").request.path == (
        "/backoffice/cases"
    )


def test_another_departments_clerk_can_neither_see_nor_change_a_case(browser, make_case, dbsession):
    dan = browser("clerk-dan")
    public_id = make_case("revenue")
    dan.get(f"/backoffice/cases/{public_id}", status=403)
    post(dan, f"/backoffice/cases/{public_id}/claim", {"version": "0"}, status=403)
    post(
        dan,
        f"/backoffice/cases/{public_id}/notes",
        {"text": "x", "visibility": "internal"},
        status=403,
    )
    dan.get(f"/backoffice/cases/{public_id}/attachments/{'0' * 32}", status=403)
    case = the_case(dbsession, public_id)
    assert case.assignee_id is None and case.notes == []
    browser("citizen-ana").get("/backoffice/cases", status=403)
    dan.get(f"/backoffice/cases/{'f' * 32}", status=404)


def test_a_clerk_claims_hands_over_notes_attaches_and_closes(browser, make_case, dbsession):
    clara, ada = browser("clerk-clara"), browser("admin-ada")
    public_id = make_case("revenue", note="overpayment: B-000001")
    page = clara.get(f"/backoffice/cases/{public_id}")
    assert "Received, not claimed" in page.html.find(id="case-state").text
    assert "overpayment: B-000001" in page.html.find(id="history").text

    page = page.forms["claim-form"].submit(status=303).follow()
    assert "The case is yours." in page.text
    assert "Clara Zupan" in page.html.find(id="case-assignee").text
    assert "claim-form" not in page.text

    note = page.forms["note-form"]
    note["text"] = "Called the bank; waiting for the statement."
    page = note.submit(status=303).follow()
    attach = page.forms["attach-form"]
    attach["file"] = ("statement.pdf", PDF, "application/pdf")
    page = attach.submit(status=303).follow()
    download = page.click(href=f"/backoffice/cases/{public_id}/attachments/")
    assert download.body == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download.headers["Cache-Control"]

    hand = page.forms["hand-over-form"]
    hand["to"].select(text="Ada Lovrec")
    page = hand.submit(status=303).follow()
    assert "The case is handed to Ada Lovrec." in page.text
    assert "hand-over-form" not in page.text  # no longer Clara's to hand over

    page = ada.get(f"/backoffice/cases/{public_id}")
    close = page.forms["close-form"]
    close["outcome"] = "The overpayment was refunded to the card."
    page = close.submit(status=303).follow()
    assert "Closed" in page.html.find(id="case-state").text

    history = page.html.find(id="history").text
    for step in (
        "Claimed by Clara Zupan",
        "Internal note by Clara Zupan",
        "File statement.pdf attached by Clara Zupan",
        "Handed to Ada Lovrec by Clara Zupan",
        "Closed (Ada Lovrec)",
    ):
        assert step in history
    case = the_case(dbsession, public_id)
    assert (case.state, case.open_key, case.assignee.name_id) == ("closed", None, "admin-ada")
    assert [(a.from_user_id is None, a.to_user.name_id) for a in case.assignments] == [
        (True, "clerk-clara"),
        (False, "admin-ada"),
    ]
    trail = dbsession.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "case", AuditEntry.object_id == public_id)
        .order_by(AuditEntry.seq)
    ).all()
    clara_id, ada_id = case.assignments[0].to_user_id, case.assignee_id
    assert [(e.action, e.actor_id) for e in trail] == [
        ("case.claimed", clara_id),
        ("case.handed_over", clara_id),
        ("case.closed", ada_id),
    ]
    assert trail[1].details["to_user_id"] == ada_id


def test_stale_pages_bad_input_and_missing_csrf_change_nothing(browser, make_case, dbsession):
    clara, ada = browser("clerk-clara"), browser("admin-ada")
    public_id = make_case("revenue")
    url = f"/backoffice/cases/{public_id}"

    post(clara, url + "/claim", {"version": "0"}, with_token=False, status=400)
    post(clara, url + "/claim", {"version": "zero"}, status=422)
    post(clara, url + "/claim", {"version": "²"}, status=422)  # a digit to isdigit(), not int()
    post(clara, url + "/claim", {"version": "7"}, status=409)
    post(clara, url + "/notes", {"text": "  ", "visibility": "internal"}, status=422)
    post(clara, url + "/notes", {"text": "x" * 4001, "visibility": "internal"}, status=422)
    post(clara, url + "/notes", {"text": "hi", "visibility": "everyone"}, status=422)
    post(clara, url + "/attachments", {}, status=422)
    post(
        clara,
        url + "/attachments",
        {},
        upload_files=[("file", "a.exe", b"MZ\x90\x00binary")],
        status=415,
    )
    post(clara, url + "/hand-over", {"version": "0", "to": "1"}, status=409)  # not claimed
    settings = clara.app.registry.settings
    settings["cases.max_attachment_bytes"] = str(len(PDF) - 1)
    try:
        post(clara, url + "/attachments", {}, upload_files=[("file", "s.pdf", PDF)], status=413)
    finally:
        del settings["cases.max_attachment_bytes"]
    clara.get("/backoffice/cases", {"state": "everything"}, status=422)
    clara.get("/backoffice/cases", {"department": "registry"}, status=422)  # not hers

    case = the_case(dbsession, public_id)
    assert (case.assignee_id, case.version, case.notes, case.attachments) == (None, 0, [], [])

    post(clara, url + "/claim", {"version": "0"})
    refused = post(ada, url + "/claim", {"version": "0"}, status=409)
    assert "Clara Zupan claimed this case a moment before you" in refused.text
    assert refused.html.find("a", string="Back to the case")["href"] == url
    post(clara, url + "/hand-over", {"version": "1", "to": "999999"}, status=422)
    post(clara, url + "/hand-over", {"version": "1", "to": "²"}, status=422)
    post(clara, url + "/close", {"version": "1", "outcome": ""}, status=422)
    post(clara, url + "/close", {"version": "²", "outcome": "Done"}, status=422)
    post(clara, url + "/close", {"version": "0", "outcome": "Done"}, status=409)
    case = the_case(dbsession, public_id)
    assert (case.assignee.name_id, case.version, case.state) == ("clerk-clara", 1, "in_progress")
    assert dbsession.scalar(select(func.count()).select_from(CaseAssignment)) == 1


def test_a_case_a_feature_decides_is_not_closed_by_a_clerk(browser, make_case, dbsession):
    clara = browser("clerk-clara")
    public_id = make_case("revenue", kind="application", subject_id="a" * 32, title="Licence")
    url = f"/backoffice/cases/{public_id}"
    page = clara.get(url).forms["claim-form"].submit(status=303).follow()
    assert "close-form" not in page.text
    post(clara, url + "/close", {"version": "1", "outcome": "Done"}, status=409)
    assert the_case(dbsession, public_id).state == "in_progress"


def test_overdue_cases_come_first_and_are_marked(browser, make_case, clock):
    clara = browser("clerk-clara")
    fresh = make_case("revenue", subject_id="pay_new")
    old = make_case("revenue", subject_id="pay_old", opened_at=clock.now() - dt.timedelta(days=30))
    page = clara.get("/backoffice/cases")
    assert rows(page) == [old, fresh]
    first, second = page.html.select("tr.case-row")
    assert "Overdue" in first.text and "Overdue" not in second.text
    assert rows(clara.get("/backoffice/cases", {"sort": "opened"})) == [fresh, old]
    assert rows(clara.get("/backoffice/cases", {"assignee": "me"})) == []
    assert rows(clara.get("/backoffice/cases", {"assignee": "none"})) == [old, fresh]


def test_times_are_shown_to_the_minute_and_a_decision_in_words(browser, make_case, wsgi_app, clock):
    clara = browser("clerk-clara")
    public_id = make_case(
        "revenue", kind="application", subject_id="b" * 32, title="Licence", opened_at=clock.now()
    )
    due = clara.get("/backoffice/cases").html.select_one("tr.case-row td").text
    assert re.search(r"\d:\d\d\b", due) and not re.search(r"\d:\d\d:\d\d", due)
    page = clara.get(f"/backoffice/cases/{public_id}")
    assert page.html.find(id="case-assignee").text.strip() == "Not claimed"
    with task_dbsession(wsgi_app.registry) as dbsession:
        decide_case_about(dbsession, "application", "b" * 32, "rejected", clock.now())

    page = clara.get(f"/backoffice/cases/{public_id}")
    assert page.html.find(id="case-outcome").text.strip() == "Rejected"
    # decided on its own page by someone who never claimed it: no longer waiting for a claim
    assert "Closed without being claimed" in page.html.find(id="case-assignee").text
    assert page.html.h1.text == "Application to decide: Licence"
    assert not re.search(r"\d:\d\d:\d\d", page.html.find(id="case-due").text)


def test_citizens_follow_their_own_cases_and_read_only_public_notes(browser, make_case, dbsession):
    ana, ben, clara = browser("citizen-ana"), browser("citizen-ben"), browser("clerk-clara")
    public_id = make_case("revenue", person="citizen-ana")
    url = f"/backoffice/cases/{public_id}"
    post(clara, url + "/claim", {"version": "0"})
    post(
        clara,
        url + "/notes",
        {"text": "Payer sounds confused; check twice.", "visibility": "internal"},
    )
    post(clara, url + "/notes", {"text": "We are checking your payment.", "visibility": "public"})

    mine = ana.get("/cases")
    assert "Being handled" in mine.html.find(id="cases").text
    page = mine.click(href=f"/cases/{public_id}")
    assert "Being handled" in page.html.find(id="case-status").text
    assert "We are checking your payment." in page.html.find(id="public-notes").text
    assert "confused" not in page.text
    assert ana.get("/account").click(linkid="my-cases-link").request.path == "/cases"

    assert public_id not in ben.get("/cases").text
    ben.get(f"/cases/{public_id}", status=403)
    ana.get(url, status=403)  # the clerks' page is not hers
    assert dbsession.scalar(select(func.count()).select_from(CaseNote)) == 2


def test_an_organisations_representatives_follow_its_cases(browser, make_case):
    olga, ana = browser("rep-olga"), browser("citizen-ana")
    public_id = make_case("revenue", organisation_of="rep-olga")
    page = olga.get("/cases").click(href=f"/cases/{public_id}")
    assert "Received" in page.html.find(id="case-status").text
    assert public_id not in ana.get("/cases").text
    ana.get(f"/cases/{public_id}", status=403)


def test_a_case_form_sent_empty_is_shown_again_with_the_error_by_its_field(
    browser, make_case, dbsession
):
    """A field the clerk got wrong shows the case's page again (not an error page): the
    summary links to the field, the field says what is wrong, what was typed is kept, and
    nothing is kept of the request."""
    clara = browser("clerk-clara")
    browser("admin-ada")  # signed in once: a colleague to hand the case to
    public_id = make_case("revenue")
    url = f"/backoffice/cases/{public_id}"
    page = clara.get(url).forms["claim-form"].submit(status=303).follow()

    note = page.forms["note-form"]
    note["text"], note["visibility"] = "   ", "public"
    page = note.submit(status=422)
    assert_error_summary(page, ["text"])
    assert "Write the note; it cannot be empty." in page.html.find(id="form-errors").text
    assert page.html.find(id="visibility-public").has_attr("checked")

    page = post(clara, url + "/notes", {"text": "Called the bank.", "visibility": "x"}, status=422)
    assert_error_summary(page, ["visibility"])
    assert page.html.find(id="text").text == "Called the bank."

    close = page.forms["close-form"]
    close["outcome"] = "x" * 301
    page = close.submit(status=422)
    assert_error_summary(page, ["outcome"])
    assert page.html.find(id="outcome")["value"] == "x" * 301

    page = post(clara, url + "/hand-over", {"version": "1", "to": "nobody"}, status=422)
    assert_error_summary(page, ["to"])
    assert "Choose a colleague of the case's department." in page.html.find(id="to-error").text

    page = page.forms["attach-form"].submit(status=422)
    assert_error_summary(page, ["file"])
    assert "Choose a file to upload." in page.html.find(id="file-error").text

    case = the_case(dbsession, public_id)
    assert (case.state, case.version, case.assignee.name_id) == ("in_progress", 1, "clerk-clara")
    assert (case.notes, case.attachments, len(case.assignments)) == ([], [], 1)

    # from a page gone stale (the case closed since): its page has no such form any more, so
    # the error page, with the way back to the case
    post(clara, url + "/close", {"version": "1", "outcome": "Refunded."})
    refused = post(clara, url + "/attachments", {}, status=422)
    assert refused.html.find(id="form-errors") is None
    assert refused.html.find("a", string="Back to the case")["href"] == url
