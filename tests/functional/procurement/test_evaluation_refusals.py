"""What the evaluation refuses: an award without a qualified bid, a decision out of turn or
without a reason, scores on a lowest-price tender, actions in the wrong status, and anyone
but the tender's buyers and committee; and a tender whose every bid is disqualified ends
unsuccessful."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.procurement import state
from portal.procurement.models import Award, QualificationDecision, Tender
from tests import factories
from tests.functional.procurement.after_opening import browser, opened_tender
from tests.functional.procurement.test_evaluation_award import evaluation, post, text_of, words

ACTIONS = ["/scores", "/decisions", "/award", "/unsuccessful"]


def count(dbsession, model) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(model))


def csrf(app) -> str:
    return app.get("/account").html.find("input", {"name": "csrf_token"})["value"]


def test_lowest_price_refusals_then_every_bid_disqualified_is_unsuccessful(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    reference = made.tender.reference
    peter, olga = made.bid(dbsession, "rep-peter"), made.bid(dbsession, "rep-olga")
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    token = csrf(bruno)

    page = bruno.get(evaluation(reference))
    rows = [words(row) for row in page.html.select("#ranking-table tbody tr")]
    assert [row.split(" ")[1] for row in rows] == ["Southgate", "Northwind", "Eastbridge"]
    assert "scores-form" not in page.forms and "award-form" not in page.forms
    assert "Under examination: Southgate Builders Ltd" in text_of(page)
    post(bruno, evaluation(reference, "/scores"), {"csrf_token": token}, status=409)

    # no award before a bid is qualified, whichever bid the form names
    award = {"csrf_token": token, "bid": peter.public_id, "reasons": "Cheapest."}
    refused = post(bruno, evaluation(reference, "/award"), award, status=409)
    assert "Only the qualified bid can be awarded." in text_of(refused)
    # a decision about a bid not under examination, or no outcome at all
    out_of_turn = {"csrf_token": token, "bid": olga.public_id, "reason": "Fine."}
    refused = post(
        bruno, evaluation(reference, "/decisions"), {**out_of_turn, "outcome": "qualified"}, 409
    )
    assert "not the one under examination" in text_of(refused)
    no_outcome = {**out_of_turn, "bid": peter.public_id, "outcome": "maybe"}
    post(bruno, evaluation(reference, "/decisions"), no_outcome, status=422)
    blank = {**no_outcome, "outcome": "disqualified", "reason": "   "}
    post(bruno, evaluation(reference, "/decisions"), blank, status=422)
    # every bid disqualified is not yet: the tender cannot be declared unsuccessful
    ending = {"csrf_token": token, "unsuccessful_reason": "No bid qualifies."}
    post(bruno, evaluation(reference, "/unsuccessful"), ending, status=409)
    assert count(dbsession, QualificationDecision) == 0 and count(dbsession, Award) == 0

    for persona in ("rep-peter", "rep-olga", "rep-quinn"):
        page = bruno.get(evaluation(reference))
        assert "unsuccessful-form" not in page.forms
        form = page.forms["decision-form"]
        assert form["bid"].value == made.bid(dbsession, persona).public_id
        form["reason"] = f"The bid of {persona} lacks the required certificates."
        form.submit("outcome", value="disqualified", status=303)
    page = bruno.get(evaluation(reference))
    assert "decision-form" not in page.forms and "award-form" not in page.forms
    refused = page.forms["unsuccessful-form"].submit(status=422)
    assert "Write why the tender is unsuccessful." in text_of(refused)
    form = refused.forms["unsuccessful-form"]
    form["unsuccessful_reason"] = "Every bid lacks the required certificates."
    form.submit(status=303)

    dbsession.expire_all()
    tender = dbsession.get_one(Tender, made.tender.id)
    assert tender.status == state.UNSUCCESSFUL
    last = tender.transitions[-1]
    assert (last.from_status, last.to_status, last.actor.name_id) == (
        "evaluation",
        "unsuccessful",
        "buyer-bruno",
    )
    assert last.cause == "Every bid lacks the required certificates."
    assert [d.outcome for d in tender.decisions] == ["disqualified"] * 3
    # an ended tender's evaluation is still shown; nothing more can be done
    page = bruno.get(evaluation(reference))
    assert "Unsuccessful" in text_of(page)
    assert not {"scores-form", "decision-form", "award-form", "unsuccessful-form"} & set(page.forms)
    post(bruno, evaluation(reference, "/unsuccessful"), ending, status=409)
    post(bruno, evaluation(reference, "/award"), award, status=409)


def test_only_the_tenders_buyers_and_committee_see_the_evaluation(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)
    reference = made.tender.reference
    peter = made.bid(dbsession, "rep-peter")
    decision = {"bid": peter.public_id, "outcome": "qualified", "reason": "Mine is best."}
    # a bidder, a clerk who is not on the committee, a reviewer
    for persona in ("rep-peter", "citizen-ana", "reviewer-rita"):
        app = browser(wsgi_app, devidp, persona)
        app.get(evaluation(reference), status=403)
        token = csrf(app)
        for action in ACTIONS:
            post(app, evaluation(reference, action), {**decision, "csrf_token": token}, 403)
    # the committee reads; it does not decide
    clara = browser(wsgi_app, devidp, "clerk-clara")
    assert "Under examination" in text_of(clara.get(evaluation(reference)))
    assert "decision-form" not in clara.get(evaluation(reference)).forms
    token = csrf(clara)
    for action in ("/decisions", "/award", "/unsuccessful"):
        post(clara, evaluation(reference, action), {**decision, "csrf_token": token}, 403)
    # a tender of another department: its buyers are others
    made.tender.department = factories.department(dbsession, "revenue")
    dbsession.commit()
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    bruno.get(evaluation(reference), status=403)
    token = csrf(bruno)
    for action in ACTIONS:
        post(bruno, evaluation(reference, action), {**decision, "csrf_token": token}, 403)
    # a tender that does not exist
    bruno.get(evaluation("T-2026-999999"), status=404)
    assert count(dbsession, QualificationDecision) == 0


def test_the_evaluation_waits_for_the_opening(
    wsgi_app, devidp, dbsession, clock, departments, signed_in
):
    tender = factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    bruno = signed_in("buyer-bruno")
    # before the opening nobody may evaluate (the context grants nothing)
    bruno.get(evaluation(tender.reference), status=403)
