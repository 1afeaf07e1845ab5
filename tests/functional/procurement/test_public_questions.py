"""Bidders' questions and the buyer's answers: asked in time or refused, answered and
published without who asked."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from portal.identity.models import Organisation
from portal.procurement.models import Question
from tests import factories
from tests.functional.procurement.public_world import browser, make_tender, text_of

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
ASKED = "Is night work allowed on Main Street between 22:00 and 06:00?"
ANSWERED = "Yes, on weekdays, with the residents told a week ahead."


def ask(app, tender, text: str, status: int):
    page = app.get(f"/tenders/{tender.reference}")
    form = page.forms[[k for k, f in page.forms.items() if f.action.endswith("/questions")][0]]
    form["text"] = text
    return form.submit(status=status)


def questions_of(engine) -> list[tuple]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Question.text, Question.answer, Question.organisation_id)
            ).all()
        )


def test_a_question_asked_in_time_is_kept_and_shown_to_its_asker_only(
    dbsession, clock, wsgi_app, devidp, engine
):
    tender = make_tender(dbsession, clock, NOW)
    olga = browser(wsgi_app, devidp, "rep-olga")

    sent = ask(olga, tender, ASKED, 303).follow()

    assert "Your question was sent." in text_of(sent) and ASKED in sent.text
    [(text, answer, organisation_id)] = questions_of(engine)
    assert (text, answer) == (ASKED, None) and organisation_id is not None
    assert ASKED not in browser(wsgi_app).get(f"/tenders/{tender.reference}").text
    peter = browser(wsgi_app, devidp, "rep-peter")
    assert ASKED not in peter.get(f"/tenders/{tender.reference}").text


def test_a_question_after_the_questions_period_is_refused_with_a_clear_message(
    dbsession, clock, wsgi_app, devidp, engine
):
    tender = make_tender(dbsession, clock, NOW, questions_until=NOW + dt.timedelta(minutes=10))
    olga = browser(wsgi_app, devidp, "rep-olga")
    page = olga.get(f"/tenders/{tender.reference}")
    form = page.forms[[k for k, f in page.forms.items() if f.action.endswith("/questions")][0]]
    form["text"] = ASKED
    clock.set(tender.questions_until - dt.timedelta(seconds=1))
    form.submit(status=303)
    form["text"] = "And at night on Sundays?"
    clock.set(tender.questions_until)

    refused = form.submit(status=409)

    assert "The questions period of this tender has ended" in text_of(refused)
    assert refused.text.count("<h1") == 1
    assert [text for text, _, _ in questions_of(engine)] == [ASKED]
    again = olga.get(f"/tenders/{tender.reference}")
    assert not [f for f in again.forms.values() if f.action.endswith("/questions")]


def test_an_empty_or_overlong_question_is_refused_and_nothing_is_kept(
    dbsession, clock, wsgi_app, devidp, engine
):
    tender = make_tender(dbsession, clock, NOW)
    olga = browser(wsgi_app, devidp, "rep-olga")

    assert "cannot be empty" in text_of(ask(olga, tender, "   ", 422))
    assert "Keep the text to 4000 characters." in text_of(ask(olga, tender, "x" * 4001, 422))
    assert questions_of(engine) == []


def test_only_representatives_may_ask(dbsession, clock, wsgi_app, devidp, engine):
    tender = make_tender(dbsession, clock, NOW)
    ana = browser(wsgi_app, devidp, "citizen-ana")
    page = ana.get(f"/tenders/{tender.reference}")
    assert not [f for f in page.forms.values() if f.action.endswith("/questions")]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    ana.post(
        f"/tenders/{tender.reference}/questions", {"csrf_token": token, "text": ASKED}, status=403
    )
    assert questions_of(engine) == []


def test_the_buyer_answers_and_the_answer_is_published_without_who_asked(
    dbsession, clock, wsgi_app, devidp, keys_dir
):
    tender = make_tender(dbsession, clock, NOW)
    ask(browser(wsgi_app, devidp, "rep-olga"), tender, ASKED, 303)
    clock.advance(days=1)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")

    answers = bruno.get(f"/procurement/tenders/{tender.reference}/questions", status=200)
    assert ASKED in answers.text and answers.text.count("<h1") == 1
    for hidden in ("Olga", "Marin", "Northwind", "NW-100200"):
        assert hidden not in answers.text
    form = answers.forms[[k for k, f in answers.forms.items() if "answer" in f.fields][0]]
    refused = form.submit(status=422)  # empty
    assert "cannot be empty" in text_of(refused)
    form["answer"] = ANSWERED
    assert "The answer is published." in text_of(form.submit(status=303).follow())
    mails = [m.read_text() for m in (keys_dir / "mail").glob("*")]
    [mail] = [m for m in mails if f"Subject: Your question on tender {tender.reference}" in m]
    assert "To: olga.marin@example.org" in mail
    assert f"https://localhost/tenders/{tender.reference}#questions" in mail

    for viewer in (browser(wsgi_app), browser(wsgi_app, devidp, "rep-peter")):
        page = viewer.get(f"/tenders/{tender.reference}")
        assert ASKED in page.text and ANSWERED in page.text
        for hidden in ("Olga", "Marin", "olga", "Northwind", "NW-100200"):
            assert hidden not in page.text


def test_an_answer_is_given_once(dbsession, clock, wsgi_app, devidp, engine):
    tender = make_tender(dbsession, clock, NOW)
    ask(browser(wsgi_app, devidp, "rep-olga"), tender, ASKED, 303)
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    answers = bruno.get(f"/procurement/tenders/{tender.reference}/questions")
    form = answers.forms[[k for k, f in answers.forms.items() if "answer" in f.fields][0]]
    form["answer"] = ANSWERED
    form.submit(status=303)

    form["answer"] = "Something else"
    assert "answered already" in text_of(form.submit(status=409))
    assert [answer for _, answer, _ in questions_of(engine)] == [ANSWERED]


def test_others_may_not_answer(dbsession, clock, wsgi_app, devidp):
    tender = make_tender(dbsession, clock, NOW)
    path = f"/procurement/tenders/{tender.reference}/questions"

    browser(wsgi_app, devidp, "rep-olga").get(path, status=403)
    browser(wsgi_app, devidp, "clerk-mia").get(path, status=403)
    assert "/saml/login" in browser(wsgi_app).get(path, status=303).location


def test_a_question_is_not_listed_under_its_askers_organisation(
    dbsession, clock, wsgi_app, devidp, engine
):
    """The buyer's clerks work the question's case without learning who asked (rivals would
    learn who is bidding); the organisation's page in the back office must not tell them."""
    tender = make_tender(dbsession, clock, NOW)
    ask(browser(wsgi_app, devidp, "rep-olga"), tender, ASKED, 303)
    [(_text, _answer, organisation_id)] = questions_of(engine)
    # a bid fee billed: the department's clerks may look the organisation up as a payer
    factories.service(dbsession, "tender-bid-fee", department_code=tender.department.code)
    organisation = dbsession.get(Organisation, organisation_id)
    factories.bill(dbsession, service_code="tender-bid-fee", organisation=organisation)
    dbsession.commit()
    mia = browser(wsgi_app, devidp, "clerk-mia")
    assert "Tender question" in mia.get("/backoffice/cases").text
    page = mia.get(f"/backoffice/payers/organisations/{organisation_id}")
    assert tender.reference not in page.text and "Tender question" not in page.text
