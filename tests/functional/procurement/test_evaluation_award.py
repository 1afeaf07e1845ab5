"""Evaluation, qualification and award through the pages, from a tender its committee has
just opened: the committee scores, the buyer examines the best-ranked bid, disqualifies it
with a reason, qualifies the next and awards it; the standstill's end is counted in the
portal's timezone across the change to summer time; the bidders are e-mailed."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from email import message_from_bytes, policy

from sqlalchemy import select

from portal.procurement import state
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import (
    AWARD_ACTIVE,
    OpenedBidDocument,
    QualificationDecision,
    QualityScore,
    StoredFile,
    Tender,
    TenderTransition,
)
from tests.functional.procurement.after_opening import browser, opened_tender

#: the award is made before the clocks go forward (28 March 2027, Europe/Ljubljana)
AWARD_TIME = dt.datetime(2027, 3, 20, 10, 0, tzinfo=dt.UTC)


def just_after(moment: dt.datetime) -> bool:
    """Recorded at the test clock's AWARD_TIME (which runs on while the test does)."""
    return AWARD_TIME <= moment < AWARD_TIME + dt.timedelta(minutes=5)


def evaluation(reference: str, suffix: str = "") -> str:
    return f"/procurement/tenders/{reference}/evaluation{suffix}"


def text_of(page) -> str:
    """The visible text of a response, spaces collapsed."""
    return words(page.html)


def words(element) -> str:
    return " ".join(element.get_text(" ").split())


def post(app, url: str, data: dict, status: int):
    """A form posted from the evaluation page (the CSRF check wants its origin)."""
    return app.post(url, data, headers={"Referer": f"https://localhost{url}"}, status=status)


def mail_files(keys_dir) -> set:
    folder = keys_dir / "mail"
    return set(folder.glob("*")) if folder.exists() else set()


def mails_about(keys_dir, reference: str, before: set) -> dict[str, list]:
    """Address -> the messages whose subject names tender ``reference``, sent since the
    mail folder held ``before`` (the folder is the whole run's, and each test's database
    numbers its tenders from 1 again)."""
    found: dict[str, list] = {}
    for path in mail_files(keys_dir) - before:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if reference in str(mail["Subject"]):
            found.setdefault(str(mail["To"]), []).append(mail)
    return found


def a_document(dbsession, version_id: int) -> str:
    """An opened document of a bid (the shared fixture's bids have none)."""
    content = b"%PDF-1.4\n"
    stored = StoredFile(
        # the bytes' own hash: a download checks the bytes against it
        sha256=hashlib.sha256(content).hexdigest(),
        media_type="application/pdf",
        size=len(content),
        content=content,
        created_at=AWARD_TIME,
    )
    document = OpenedBidDocument(version_id=version_id, file=stored, filename="references.pdf")
    dbsession.add(document)
    dbsession.commit()
    return document.public_id


def test_score_disqualify_qualify_the_next_and_award(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    mails_before = mail_files(keys_dir)
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    olga_bid = made.bid(dbsession, "rep-olga")
    quinn_bid = made.bid(dbsession, "rep-quinn")
    document = a_document(dbsession, olga_bid.versions[-1].id)
    clock.set(AWARD_TIME)

    # nothing is decided before every bid is scored
    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    early = {"bid": olga_bid.public_id, "outcome": "qualified", "reason": "Fine."}
    token = bruno.get("/account").html.find("input", {"name": "csrf_token"})["value"]
    refused = post(bruno, evaluation(reference, "/decisions"), {**early, "csrf_token": token}, 409)
    assert "Every bid must be scored before the qualification." in text_of(refused)

    # a committee member scores; the sheet is checked as a whole
    mia = browser(wsgi_app, devidp, "clerk-mia")
    page = mia.get(evaluation(reference))
    assert "not scored" in text_of(page) and page.html.find(id="examined") is None
    assert page.html.find(id="provisional") is not None
    assert "lowest price ÷ the bid's price × 60" in text_of(page)
    form = page.forms["scores-form"]
    fields = {bid: f"score-{made.bid(dbsession, bid).public_id}" for bid in made.bidders}
    criterion = next(c for c in made.tender.criteria if not c.is_price).id
    form[f"{fields['rep-olga']}-{criterion}"] = "40"
    form[f"{fields['rep-peter']}-{criterion}"] = "41"
    refused = form.submit(status=422)
    assert "Give Southgate Builders Ltd from 0 to 40 points for Delivery time" in text_of(refused)
    assert dbsession.scalars(select(QualityScore)).all() == []
    form = refused.forms["scores-form"]
    form[f"{fields['rep-peter']}-{criterion}"] = "30"
    form[f"{fields['rep-quinn']}-{criterion}"] = "35,5"
    form.submit(status=303)
    page = mia.get(evaluation(reference))
    assert page.html.find(id="provisional") is None
    rows = [words(row) for row in page.html.select("#ranking-table tbody tr")]
    assert rows[0].startswith("1 Northwind") and "58.21" in rows[0] and "98.21" in rows[0]
    assert rows[1].startswith("2 Eastbridge") and "55.88" in rows[1] and "91.38" in rows[1]
    assert rows[2].startswith("3 Southgate") and "60.00" in rows[2] and "90.00" in rows[2]
    assert "€176,950.00 ÷ €182,400.00 × 60" in rows[0]
    # the committee reads and scores; it does not decide
    token = page.forms["scores-form"]["csrf_token"].value
    olga_id, quinn_id = olga_bid.public_id, quinn_bid.public_id
    decision = {"csrf_token": token, "bid": olga_id, "outcome": "qualified", "reason": "Fine."}
    post(mia, evaluation(reference, "/decisions"), decision, status=403)

    # the buyer examines the best-ranked bid, with its documents
    overview = bruno.get(f"/procurement/tenders/{reference}")
    page = bruno.get(overview.html.find(id="evaluation-link")["href"])
    examined = page.html.find(id="examined")
    assert "Under examination: Northwind Supplies Ltd" in words(examined)
    link = examined.find("a", string="references.pdf")["href"]
    assert link.endswith(f"/opening/documents/{document}")
    assert bruno.get(link).body == b"%PDF-1.4\n"

    form = page.forms["decision-form"]
    refused = form.submit("outcome", value="disqualified", status=422)
    assert "Write why the bid is qualified or disqualified." in text_of(refused)
    assert dbsession.scalars(select(QualificationDecision)).all() == []
    # the score sheet shown again beside the refused decision keeps the scores as saved
    assert refused.forms["scores-form"][f"{fields['rep-olga']}-{criterion}"].value == "40.00"

    form = refused.forms["decision-form"]
    form["reason"] = "The references do not cover works of this size."
    form.submit("outcome", value="disqualified", status=303)
    page = bruno.get(evaluation(reference))
    assert "Under examination: Eastbridge Works Ltd" in text_of(page)
    assert "scores-form" not in page.forms  # final once the first decision is taken
    scores = {"csrf_token": token, f"{fields['rep-peter']}-{criterion}": "40"}
    post(mia, evaluation(reference, "/scores"), scores, status=409)
    # a stale form about the bid already decided is refused
    stale = {**decision, "csrf_token": page.forms["decision-form"]["csrf_token"].value}
    post(bruno, evaluation(reference, "/decisions"), stale, status=409)

    form = page.forms["decision-form"]
    form["reason"] = "Qualified: references, staff and equipment as required."
    form.submit("outcome", value="qualified", status=303)
    page = bruno.get(evaluation(reference))
    assert page.html.find(id="examined") is None
    form = page.forms["award-form"]
    assert form["bid"].value == quinn_id
    refused = form.submit(status=422)
    assert "Write the reasons for the award." in text_of(refused)
    form = refused.forms["award-form"]
    form["reasons"] = "The best price-quality ratio among the qualified bids."
    form.submit(status=303)

    dbsession.expire_all()
    tender = dbsession.get_one(Tender, made.tender.id)
    assert tender.status == state.STANDSTILL
    (award,) = tender.awards
    assert award.status == AWARD_ACTIVE and award.bid_id == quinn_bid.id
    assert award.value_minor == 190_000_00 and award.currency == "EUR"
    assert award.decided_by.name_id == "buyer-bruno" and just_after(award.decided_at)
    # ten days after 20 March, in Ljubljana: to the end of 30 March, in summer time
    assert award.standstill_until == dt.datetime(2027, 3, 30, 22, 0, tzinfo=dt.UTC)
    decisions = [(d.bid_id, d.outcome, d.decided_by.name_id) for d in tender.decisions]
    assert decisions == [
        (olga_bid.id, "disqualified", "buyer-bruno"),
        (quinn_bid.id, "qualified", "buyer-bruno"),
    ]
    assert all(just_after(d.decided_at) for d in tender.decisions)
    last = dbsession.scalars(
        select(TenderTransition)
        .where(TenderTransition.tender_id == tender.id)
        .order_by(TenderTransition.id.desc())
    ).first()
    assert (last.from_status, last.to_status, last.at) == (
        "evaluation",
        "standstill",
        award.decided_at,
    )
    assert last.actor.name_id == "buyer-bruno"
    assert {s.points for s in dbsession.scalars(select(QualityScore))} == {
        Decimal("40.00"),
        Decimal("30.00"),
        Decimal("35.50"),
    }

    mails = mails_about(keys_dir, reference, mails_before)
    (won,) = mails["quinn.hribar@example.org"]
    assert str(won["Subject"]) == f"Tender {reference}: your bid is awarded"
    assert "2027-03-31 00:00 (Europe/Ljubljana)" in won.get_body().get_content()
    for address in ("olga.marin@example.org", "peter.vidmar@example.org"):
        (lost,) = mails[address]
        body = lost.get_body().get_content()
        assert str(lost["Subject"]) == f"Tender {reference} was awarded"
        assert "to Eastbridge Works Ltd" in body and "best price-quality ratio" in body

    # after the award, the page shows it and decides nothing more
    page = bruno.get(evaluation(reference))
    assert "Eastbridge Works Ltd" in words(page.html.find(id="awards"))
    assert "decision-form" not in page.forms and "award-form" not in page.forms
    again = {"bid": quinn_id, "reasons": "Again.", "reason": "Again.", "outcome": "qualified"}
    csrf = bruno.get("/account").html.find("input", {"name": "csrf_token"})["value"]
    post(bruno, evaluation(reference, "/award"), {**again, "csrf_token": csrf}, status=409)
    post(bruno, evaluation(reference, "/decisions"), {**again, "csrf_token": csrf}, status=409)
    dbsession.expire_all()
    assert len(dbsession.get_one(Tender, tender.id).awards) == 1

    # the clock ends the standstill at its local midnight, not a second before
    for moment, expected in [
        (award.standstill_until - dt.timedelta(seconds=2), state.STANDSTILL),
        (award.standstill_until, state.CONTRACTING),
    ]:
        clock.set(moment)
        advance_tenders(wsgi_app.registry)
        dbsession.expire_all()
        assert dbsession.get_one(Tender, tender.id).status == expected
