"""The audit log's page: auditors (a read-only role) and administrators search it by person,
object, action and time, newest first, with personal data masked; nobody else sees it, and
an auditor does no clerk work."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.audit import record
from portal.identity.models import User
from tests.conftest import sign_in


def rows(page) -> list[list[str]]:
    table = page.html.find("table", id="audit-entries")
    return [
        [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
        for row in table.tbody.find_all("tr")
    ]


def actions(page) -> list[str]:
    return [row[2] for row in rows(page) if len(row) > 2]


def test_an_auditor_lands_on_the_log_and_sees_their_own_sign_in(testapp, devidp, departments):
    answer = sign_in(testapp, devidp, "auditor-ana", next_path="")

    assert urlsplit(answer.location).path == "/backoffice/audit"
    page = testapp.get("/backoffice/audit", status=200)
    assert actions(page) == ["identity.signed_in", "identity.roles_changed"]
    assert "new: ['auditor']" in rows(page)[1][6]
    assert page.html.find("a", href="/backoffice/audit") is not None


def test_the_log_fits_the_page_and_its_filters_line_up(testapp, devidp, departments):
    """A 1280-pixel window showed the Details column cut off and the date filters out of
    line: the table now sits in USWDS's scrolling container with its long cells wrapping,
    and the filters are one grid (portal.css) with the buttons on a row of their own."""
    sign_in(testapp, devidp, "auditor-ana")
    page = testapp.get("/backoffice/audit", status=200)

    table = page.html.find("table", id="audit-entries")
    assert "usa-table-container--scrollable" in table.parent["class"]
    assert table.parent["tabindex"] == "0"  # a keyboard scrolls it too
    for row in table.tbody.find_all("tr"):
        object_cell, details = row.find_all("td")[5:7]
        assert "portal-long" in object_cell["class"] and "portal-long" in details["class"]
    assert not re.search(r"\d:\d\d:\d\d", rows(page)[0][1])  # to the minute
    filters = page.html.find("form", id="audit-filters")
    assert "portal-filters--grid" in filters["class"]
    assert "usa-form--large" not in filters["class"]  # its 30rem would squeeze the grid
    fields = filters.find_all(["div", "fieldset"], recursive=False)
    assert [field.get("id") for field in fields if field.name == "fieldset"] == ["from", "to"]
    assert "portal-filters__actions" in fields[-1]["class"]
    assert fields[-1].find("button", type="submit") is not None


def test_an_auditor_does_no_clerk_work(testapp, devidp, departments):
    sign_in(testapp, devidp, "auditor-ana")

    testapp.get("/backoffice", status=403)
    testapp.get("/backoffice/departments/revenue", status=403)
    testapp.get("/backoffice/departments/revenue/payments", status=403)
    testapp.get("/backoffice/imports", status=403)


def test_administrators_see_the_log_and_clerks_and_citizens_do_not(testapp, devidp, departments):
    sign_in(testapp, devidp, "admin-ada")
    testapp.get("/backoffice/audit", status=200)
    testapp.reset()
    for persona in ("clerk-clara", "citizen-ana"):
        sign_in(testapp, devidp, persona)
        testapp.get("/backoffice/audit", status=403)
        assert testapp.get("/account").html.find("a", href="/backoffice/audit") is None
        testapp.reset()


def test_the_log_is_searched_by_person_object_action_and_day(
    testapp, devidp, departments, in_transaction, clock
):
    sign_in(testapp, devidp, "auditor-ana")
    with in_transaction() as dbsession:
        record(dbsession, "payment.succeeded", subject_id=501, object=("payment", "p1"))
        record(dbsession, "payment.failed", subject_id=502, object=("payment", "p2"))
        record(dbsession, "refund.requested", actor_id=501, object=("refund", "r1"))
        record(dbsession, "tender.published", actor_id=503, object=("tender", "T-1"))

    def found(**query) -> list[str]:
        return actions(testapp.get("/backoffice/audit", params=query, status=200))

    assert found(person="501") == ["refund.requested", "payment.succeeded"]
    assert found(object_type="payment", object_id="p2") == ["payment.failed"]
    assert found(action="payment") == ["payment.failed", "payment.succeeded"]
    assert found(action="payment.failed") == ["payment.failed"]
    today = clock.today().isoformat()
    assert len(found(**{"from": today, "to": today})) >= 4
    tomorrow = clock.today().replace(year=clock.today().year + 1).isoformat()
    assert found(**{"from": tomorrow}) == []


def test_personal_data_is_shown_masked(testapp, devidp, departments, in_transaction):
    sign_in(testapp, devidp, "auditor-ana")
    with in_transaction() as dbsession:
        record(dbsession, "person.national_id_viewed", subject_id=9, personal={"name": "Ben Kovač"})

    page = testapp.get("/backoffice/audit", params={"person": "9"}, status=200)

    assert "Ben Kovač" not in page.text
    assert "name: B\u2022\u2022\u2022\u2022\u2022" in rows(page)[0][6]


def test_pages_go_back_in_time_fifty_entries_at_a_time(
    testapp, devidp, departments, in_transaction
):
    sign_in(testapp, devidp, "auditor-ana")
    with in_transaction() as dbsession:
        for n in range(60):
            record(dbsession, "test.entry", object=("thing", n))

    first = testapp.get("/backoffice/audit", params={"action": "test"}, status=200)
    assert len(rows(first)) == 50
    assert rows(first)[0][5] == "thing 59"
    older = first.click(description="Older entries")
    assert [row[5] for row in rows(older)] == [f"thing {n}" for n in range(9, -1, -1)]
    assert older.html.find("a", string="Older entries") is None


def test_a_filter_that_cannot_be_read_is_refused_and_nothing_listed(
    testapp, devidp, departments, caplog
):
    sign_in(testapp, devidp, "auditor-ana")

    page = testapp.get("/backoffice/audit", params={"person": "ana"}, status=400)

    assert "Give the person's number, for example 42." in page.html.find(id="form-errors").text
    assert rows(page) == [["Correct the filters to see entries."]]
    assert "refused 400 malformed" in caplog.text
    page = testapp.get("/backoffice/audit", params={"from": "5 May"}, status=400)
    assert "Dates are written as YYYY-MM-DD" in page.text


def test_a_person_is_found_by_e_mail_without_the_address_in_a_url(
    testapp, devidp, departments, dbsession
):
    sign_in(testapp, devidp, "citizen-ben")
    testapp.reset()
    sign_in(testapp, devidp, "auditor-ana")
    ben = dbsession.scalar(select(User).where(User.name_id == "citizen-ben"))
    page = testapp.get("/backoffice/audit", status=200)

    form = page.forms["find-person"]
    form["email"] = ben.email.upper()
    answer = form.submit(status=303)

    assert urlsplit(answer.location).query == f"person={ben.id}"
    assert actions(answer.follow()) == ["identity.signed_in"]
    form["email"] = "nobody@example.org"
    refused = form.submit(status=404)
    assert "No one has this e-mail address." in refused.text
    testapp.post("/backoffice/audit", {"email": ben.email}, status=400)
