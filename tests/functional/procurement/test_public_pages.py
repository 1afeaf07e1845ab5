"""The public tender pages and the buyer's answers page are built like every other page:
one h1 inside the main landmark, every form field labelled, errors summarised and tied to
their fields, no script needed, and "Tenders" in everyone's navigation."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from tests.functional.procurement.public_world import browser, make_tender

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def assert_accessible(page) -> None:
    html = page.html
    main = html.find("main")
    assert main is not None and main.get("id") == "main-content"
    assert len(html.find_all("h1")) == 1 and main.find("h1") is not None
    assert html.find("script") is None
    ids = Counter(tag["id"] for tag in html.find_all(id=True))
    assert [name for name, count in ids.items() if count > 1] == []
    labels = {label.get("for") for label in html.find_all("label")}
    for field in main.find_all(["input", "select", "textarea"]):
        if field.get("type") in ("hidden", "submit"):
            continue
        assert field.get("id") in labels, field
    for field in main.find_all(attrs={"aria-describedby": True}):
        for described in field["aria-describedby"].split():
            assert html.find(id=described) is not None, described
    for link in main.select("#form-errors a[href^='#']"):
        assert html.find(id=link["href"][1:]) is not None, link


def test_every_public_page_and_the_answers_page_is_accessible(dbsession, clock, wsgi_app, devidp):
    tender = make_tender(dbsession, clock, NOW)
    anyone = browser(wsgi_app)
    olga = browser(wsgi_app, devidp, "rep-olga")
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    path = f"/tenders/{tender.reference}"
    asking = next(f for f in olga.get(path).forms.values() if "text" in f.fields)
    refused_question = asking.submit(status=422)  # empty
    asking["text"] = "When is the site visit?"
    asking.submit(status=303)
    answers = bruno.get(f"/procurement/tenders/{tender.reference}/questions")
    answering = next(f for f in answers.forms.values() if "answer" in f.fields)

    pages = [
        anyone.get("/tenders"),
        anyone.get("/tenders", params={"cpv": "x", "from": "2027-02-30"}, status=400),
        anyone.get(path),
        olga.get(path),
        refused_question,
        answers,
        answering.submit(status=422),
    ]
    for shown in pages:
        assert_accessible(shown)


def test_tenders_are_in_everyones_navigation(dbsession, clock, wsgi_app, devidp):
    for app in (browser(wsgi_app), browser(wsgi_app, devidp, "citizen-ana")):
        navigation = app.get("/").html.find("nav", class_="portal-nav")
        assert "/tenders" in [link["href"] for link in navigation.find_all("a")]
    current = browser(wsgi_app).get("/tenders").html.find(attrs={"aria-current": "page"})
    assert current["href"] == "/tenders"


def test_the_buyer_finds_the_questions_from_the_tender_page(dbsession, clock, wsgi_app, devidp):
    tender = make_tender(dbsession, clock, NOW)
    path = f"/tenders/{tender.reference}"

    link = browser(wsgi_app, devidp, "buyer-bruno").get(path).html.find(id="answers")
    assert link["href"] == f"/procurement/tenders/{tender.reference}/questions"
    assert "0 waiting" in link.get_text()
    assert browser(wsgi_app).get(path).html.find(id="answers") is None
