"""The bid securities after the opening, on the ledger: given back to every bidder but the
winner at the award and to the winner once the contract is signed; kept as revenue when the
winner refuses to sign; all given back when the tender is cancelled after its opening or ends
unsuccessful. Each path checks the deposits account (and the revenue) after every step, the
refunds the sandbox confirmed and the deposits' statuses; a movement asked again moves
nothing twice."""

from __future__ import annotations

import pytest
import webtest
from sqlalchemy import select

from portal.billing import refund_bill
from portal.billing.models import Deposit
from portal.procurement import deposit_movements, state
from portal.procurement.models import (
    AWARD_ACTIVE,
    AWARD_CANCELLED,
    QUALIFIED,
    REFUSED_TO_SIGN,
    Award,
    Contract,
    QualificationDecision,
    Tender,
)
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import browser, opened_tender
from tests.functional.procurement.contract_support import (
    HELD,
    KEPT,
    LJUBLJANA,
    SAME_ORIGIN,
    SIGNED,
    award,
    balance,
    past_standstill,
    record_contract,
    refund_count,
    refunds,
)

LODGED = 3 * 1_000_00


@pytest.fixture
def made(wsgi_app, devidp, sandbox, dbsession, clock, departments):
    """Opened, lowest price: Peter's Southgate (176,950.00) ranks first, then Olga's
    Northwind (182,400.00), then Quinn's Eastbridge (190,000.00)."""
    return opened_tender(wsgi_app, devidp, sandbox, dbsession, clock, quality=False)


def statuses(made, dbsession) -> dict[str, str]:
    return {
        persona: made.bid(dbsession, persona).deposit.status
        for persona in ("rep-olga", "rep-peter", "rep-quinn")
    }


def tender_of(dbsession, made) -> Tender:
    dbsession.expire_all()
    return dbsession.get_one(Tender, made.tender.id)


def buyer(wsgi_app, devidp):
    return browser(wsgi_app, devidp, "buyer-bruno")


def test_the_award_gives_back_all_but_the_winners_and_the_contract_the_winners(
    made, wsgi_app, devidp, dbsession, clock
):
    assert balance(dbsession, HELD) == -LODGED
    award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    assert balance(dbsession, HELD) == -1_000_00
    assert statuses(made, dbsession) == {
        "rep-olga": "released",
        "rep-peter": "held",
        "rep-quinn": "released",
    }
    given_back = refunds(dbsession)
    assert [r.amount_minor for r in given_back] == [1_000_00, 1_000_00]
    assert {r.status for r in given_back} == {"succeeded"}  # sent after commit, confirmed
    olga = made.bid(dbsession, "rep-olga").deposit
    assert olga.refund_id in {r.id for r in given_back}
    assert "awarded to another bid" in olga.close_reason

    # asked again (a retried request): nothing moves twice
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        again = deposit_movements.release_at_award(
            session, tender, state.active_award(session, tender), clock.now()
        )
    assert again == []
    assert refund_count(dbsession) == 2 and balance(dbsession, HELD) == -1_000_00

    past_standstill(wsgi_app, clock)
    assert tender_of(dbsession, made).status == "contracting"
    bruno = buyer(wsgi_app, devidp)
    reference = made.tender.reference
    record_contract(bruno, reference, clock).submit(status=303)

    tender = tender_of(dbsession, made)
    assert tender.status == "complete"
    contract = dbsession.scalars(select(Contract)).one()
    assert contract.value_minor == 176_950_00 and contract.currency == "EUR"
    assert contract.signed_on == clock.now().astimezone(LJUBLJANA).date()
    assert contract.file.content == SIGNED and contract.filename == "contract.pdf"
    assert contract.award.bid_id == made.bid(dbsession, "rep-peter").id
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, KEPT) == 0
    assert statuses(made, dbsession)["rep-peter"] == "released"
    given_back = refunds(dbsession)
    assert len(given_back) == 3 and {r.status for r in given_back} == {"succeeded"}
    assert "Contract of tender" in made.bid(dbsession, "rep-peter").deposit.close_reason

    # recorded once: a second click is refused, the winner's release not asked again
    page = bruno.get(f"/procurement/tenders/{reference}/contract")
    assert "contract-form" not in page.forms and "176,950.00" in page.text
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        found = session.get_one(Contract, contract.id)
        assert deposit_movements.release_winner(session, tender, found.award, clock.now()) == []
    assert refund_count(dbsession) == 3 and balance(dbsession, HELD) == 0

    # the signed contract is public now
    anyone = webtest.TestApp(wsgi_app, extra_environ={"wsgi.url_scheme": "https"})
    download = anyone.get(f"/tenders/{reference}/contract/document")
    assert download.body == SIGNED and download.content_type == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]


def test_a_refusal_to_sign_keeps_the_winners_security_and_goes_back_to_evaluation(
    made, wsgi_app, devidp, dbsession, clock
):
    award_id = award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    assert balance(dbsession, HELD) == -1_000_00 and balance(dbsession, KEPT) == 0
    past_standstill(wsgi_app, clock)
    bruno = buyer(wsgi_app, devidp)
    reference = made.tender.reference
    form = bruno.get(f"/procurement/tenders/{reference}/contract").forms["refusal-form"]
    form["refusal_reason"] = "Southgate wrote that it cannot deliver at the price bid."
    form.submit(status=303)

    tender = tender_of(dbsession, made)
    assert tender.status == "evaluation"
    assert balance(dbsession, HELD) == 0
    assert balance(dbsession, KEPT) == -1_000_00  # the department's revenue now
    assert refund_count(dbsession) == 2  # kept, not given back
    peter = made.bid(dbsession, "rep-peter")
    assert peter.deposit.status == "forfeited" and peter.deposit.refund_id is None
    assert "cannot deliver at the price bid" in peter.deposit.close_reason
    withdrawn = dbsession.get_one(Award, award_id)
    assert withdrawn.status == AWARD_CANCELLED and "refused to sign" in withdrawn.cancel_reason
    decisions = dbsession.scalars(
        select(QualificationDecision)
        .where(QualificationDecision.bid_id == peter.id)
        .order_by(QualificationDecision.id)
    ).all()
    assert [(d.outcome, d.annulled_at is not None) for d in decisions] == [
        (QUALIFIED, True),
        (REFUSED_TO_SIGN, False),
    ]
    assert decisions[1].reason == "Southgate wrote that it cannot deliver at the price bid."
    assert decisions[1].decided_by.name_id == "buyer-bruno"

    # a second click finds the tender back in evaluation: refused, nothing kept twice
    token = form["csrf_token"].value
    bruno.post(
        f"/procurement/tenders/{reference}/contract/refusal",
        {"csrf_token": token, "refusal_reason": "Again."},
        headers=SAME_ORIGIN,
        status=409,
    )
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        found = session.get_one(Award, award_id)
        assert deposit_movements.forfeit_winner(session, tender, found, "Again", clock.now()) == []
    assert balance(dbsession, KEPT) == -1_000_00 and balance(dbsession, HELD) == 0

    # the next-ranked bid is awarded and signs: its security went back at the first award
    award(wsgi_app, made, "rep-olga", clock.now(), dbsession)
    past_standstill(wsgi_app, clock)
    bruno = buyer(wsgi_app, devidp)
    record_contract(bruno, reference, clock, value="182,400.00").submit(status=303)
    assert tender_of(dbsession, made).status == "complete"
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == -1_000_00
    assert refund_count(dbsession) == 2
    assert statuses(made, dbsession) == {
        "rep-olga": "released",
        "rep-peter": "forfeited",
        "rep-quinn": "released",
    }


def cancel(bruno, reference: str, reason: str, status=303):
    form = bruno.get(f"/procurement/tenders/{reference}").forms["cancel-form"]
    form["cancel_reason"] = reason
    return form.submit(status=status)


def test_cancelling_in_evaluation_gives_every_security_back(
    made, wsgi_app, devidp, dbsession, clock
):
    bruno = buyer(wsgi_app, devidp)
    reference = made.tender.reference
    cancel(bruno, reference, "The budget was withdrawn.")

    tender = tender_of(dbsession, made)
    assert tender.status == "cancelled"
    assert tender.transitions[-1].cause == "cancelled: The budget was withdrawn."
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == 0
    given_back = refunds(dbsession)
    assert len(given_back) == 3 and {r.status for r in given_back} == {"succeeded"}
    assert set(statuses(made, dbsession).values()) == {"released"}
    # a fee paid stays paid
    assert balance(dbsession, "revenue:tender-bid-fee") == -3 * 50_00

    # once cancelled, no more: no form, and a posted one is refused
    page = bruno.get(f"/procurement/tenders/{reference}")
    assert "cancel-form" not in page.forms
    token = page.html.find("input", {"name": "csrf_token"})["value"]
    bruno.post(
        f"/procurement/tenders/{reference}/cancel",
        {"csrf_token": token, "cancel_reason": "Again."},
        headers=SAME_ORIGIN,
        status=409,
    )
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        assert deposit_movements.release_all(session, tender, "Again", clock.now()) == []
    assert refund_count(dbsession) == 3 and balance(dbsession, HELD) == 0


def test_cancelling_during_the_standstill_cancels_the_award_and_gives_the_winners_back(
    made, wsgi_app, devidp, dbsession, clock
):
    award_id = award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    assert balance(dbsession, HELD) == -1_000_00
    clock.advance(days=2)
    bruno = buyer(wsgi_app, devidp)
    cancel(bruno, made.tender.reference, "The road is to be rebuilt instead.")

    assert tender_of(dbsession, made).status == "cancelled"
    cancelled = dbsession.get_one(Award, award_id)
    assert cancelled.status == AWARD_CANCELLED and "rebuilt instead" in cancelled.cancel_reason
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == 0
    assert refund_count(dbsession) == 3
    assert set(statuses(made, dbsession).values()) == {"released"}


def test_a_complete_tender_cannot_be_cancelled(made, wsgi_app, devidp, dbsession, clock):
    award(wsgi_app, made, "rep-peter", clock.now(), dbsession)
    past_standstill(wsgi_app, clock)
    bruno = buyer(wsgi_app, devidp)
    reference = made.tender.reference
    record_contract(bruno, reference, clock).submit(status=303)
    page = bruno.get(f"/procurement/tenders/{reference}")
    assert "cancel-form" not in page.forms
    token = page.html.find("input", {"name": "csrf_token"})["value"]
    bruno.post(
        f"/procurement/tenders/{reference}/cancel",
        {"csrf_token": token, "cancel_reason": "Too late."},
        headers=SAME_ORIGIN,
        status=409,
    )
    assert tender_of(dbsession, made).status == "complete"
    award_row = dbsession.scalars(select(Award)).one()
    assert award_row.status == AWARD_ACTIVE


def test_an_unsuccessful_tender_gives_every_security_back(made, wsgi_app, dbsession, clock):
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        assert state.transition(session, tender, state.UNSUCCESSFUL, now=clock.now())
        moved = deposit_movements.release_all(
            session, tender, f"Tender {tender.reference} unsuccessful", clock.now()
        )
        assert len(moved) == 3
    assert balance(dbsession, HELD) == 0 and balance(dbsession, KEPT) == 0
    given_back = refunds(dbsession)
    assert len(given_back) == 3 and {r.status for r in given_back} == {"succeeded"}
    assert set(statuses(made, dbsession).values()) == {"released"}
    assert "unsuccessful" in made.bid(dbsession, "rep-quinn").deposit.close_reason

    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        assert deposit_movements.release_all(session, tender, "Again", clock.now()) == []
    assert refund_count(dbsession) == 3 and balance(dbsession, HELD) == 0


def test_a_deposit_that_cannot_be_given_back_is_logged_and_the_others_go_on(
    made, wsgi_app, dbsession, clock, caplog
):
    """A clerk refunded the payment of Olga's security by hand, so it can no longer be given
    back as a deposit: that is logged for a clerk, and Peter's and Quinn's go back all the
    same."""
    olga = made.bid(dbsession, "rep-olga")
    with task_dbsession(wsgi_app.registry) as session:
        deposit = session.get_one(Deposit, olga.deposit_id)
        assert refund_bill(session, deposit.bill, "Refunded by hand") is not None
    assert refund_count(dbsession) == 1
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        moved = deposit_movements.release_all(session, tender, "Cancelled", clock.now())
        assert len(moved) == 2
    assert f"deposit {olga.deposit.public_id} of bid {olga.public_id}" in caplog.text
    assert "a clerk must look at it" in caplog.text
    assert statuses(made, dbsession) == {
        "rep-olga": "held",
        "rep-peter": "released",
        "rep-quinn": "released",
    }
    assert refund_count(dbsession) == 3
