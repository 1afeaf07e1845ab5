"""Complaints against an award, as people make them: a bidder files one during the standstill
(text and a document), pays its fee through the pay flow and the sandbox, it is registered,
and a reviewer upholds it (the fee refunded, the award withdrawn, the tender back in
evaluation) or rejects it (the fee kept); unpaid at the standstill's end it lapses. The
bidder's representatives are mailed at each step."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.billing import ledger as billing_ledger
from portal.billing import with_status
from portal.billing.models import Refund, RefundLine
from portal.identity.models import User
from portal.procurement.complaints import lapse_complaints, lapse_unpaid
from portal.procurement.jobs import advance_tenders
from portal.procurement.models import AWARD_ACTIVE, AWARD_CANCELLED, Award, Complaint, Tender
from portal.procurement.tenders import cancel_tender
from portal.tasks import task_dbsession
from tests.functional.procurement.after_opening import browser, opened_tender
from tests.functional.procurement.complaint_support import (
    FEE,
    award_to,
    complaint_of,
    file,
    finish_paying,
    mails_to,
    pay,
    set_fee,
    signed_in_payer,
    start_paying,
)

QUINN = "quinn.hribar@example.org"
OLGA = "olga.marin@example.org"
#: a form posted from the portal's own pages
SAME_SITE = {"Origin": "https://localhost"}
REVENUE = billing_ledger.revenue_account("tender-complaint-fee")[0]


def _awarded(wsgi_app, devidp, sandbox, dbsession, clock):
    set_fee(dbsession)
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    award = award_to(dbsession, made, "rep-peter", clock.now())
    return made, award


def _decide(reviewer, complaint, outcome, reason, status=303):
    form = reviewer.get(f"/review/complaints/{complaint.public_id}").forms["decision-form"]
    if outcome:
        form["outcome"] = outcome
    form["reason"] = reason
    return form.submit(status=status)


def test_a_complaint_filed_paid_and_upheld_refunds_the_fee_and_withdraws_the_award(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")

    page = quinn.app.get(f"/tenders/{reference}/complaints/new")
    assert "500.00" in page.text and "Southgate" in page.text
    complaint = complaint_of(dbsession, file(quinn.app, reference, status=303))
    assert complaint.status == "awaiting_payment"
    assert complaint.organisation.registration_number == "EB-500600"
    assert [d.filename for d in complaint.documents] == ["licence-check.pdf"]
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.bill.total.minor == FEE and fee.payable
    assert fee.bill.payer_organisation_id == complaint.organisation_id
    assert fee.bill.number == f"{reference}-CMP-{complaint.id}"
    (filed,) = mails_to(keys_dir, QUINN, complaint.public_id, "pay the fee")
    assert "500.00" in filed
    # the fee is on the organisation's bills page, like any bill
    assert fee.bill.public_id in quinn.app.get("/bills").text

    page = quinn.app.get(f"/complaints/{complaint.public_id}")
    assert "awaiting" in page.text.lower() and "pay-form" in page.forms
    document_url = page.html.select_one("#documents a")["href"]
    assert quinn.app.get(document_url).body.startswith(b"%PDF")

    pay(quinn, complaint)
    dbsession.expire_all()
    assert complaint.status == "registered" and complaint.registered_at is not None
    assert mails_to(keys_dir, QUINN, complaint.public_id, "registered")
    assert "pay-form" not in quinn.app.get(f"/complaints/{complaint.public_id}").forms

    rita = browser(wsgi_app, devidp, "reviewer-rita")
    queue = rita.get("/review/complaints")
    assert complaint.public_id in queue.html.select_one("#waiting").decode()
    _decide(rita, complaint, "upheld", "The winner's licence had expired.")

    dbsession.expire_all()
    assert complaint.status == "upheld" and complaint.decided_by.name_id == "reviewer-rita"
    assert complaint.decision_reason == "The winner's licence had expired."
    refund = dbsession.scalars(
        select(Refund).join(RefundLine).where(RefundLine.bill_id == complaint.fee_bill_id)
    ).one()
    assert refund.status == "succeeded" and refund.amount_minor == FEE
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.status == "cancelled"
    assert billing_ledger.account_balance(dbsession, REVENUE).get("EUR", 0) == 0
    tender = dbsession.get(Tender, made.tender.id)
    assert tender.status == "evaluation"
    award = dbsession.get(Award, award.id)
    assert award.status == AWARD_CANCELLED and "licence had expired" in award.cancel_reason
    (upheld,) = mails_to(keys_dir, QUINN, complaint.public_id, "upheld")
    assert "The winner's licence had expired." in upheld
    assert "complaint-text" in quinn.app.get(f"/complaints/{complaint.public_id}").text

    # decided once: a second decision is refused and changes nothing
    page = rita.get(f"/review/complaints/{complaint.public_id}")
    assert "decision-form" not in page.forms
    refused = rita.post(
        f"/review/complaints/{complaint.public_id}",
        {"outcome": "rejected", "reason": "Changed my mind.", "csrf_token": _csrf(page)},
        headers=SAME_SITE,
        status=409,
    )
    assert "not decided yet" in refused.text
    dbsession.expire_all()
    assert complaint.status == "upheld"


def _csrf(page) -> str:
    return page.html.select_one('input[name="csrf_token"]')["value"]


def test_a_rejected_complaint_keeps_the_fee_and_the_standstill_then_ends(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, reference, status=303))
    pay(quinn, complaint)
    rita = browser(wsgi_app, devidp, "reviewer-rita")

    refused = _decide(rita, complaint, "rejected", "  ", status=422)
    assert "Give the reason for the decision." in refused.text
    refused = _decide(rita, complaint, None, "No outcome chosen.", status=422)
    assert "Choose whether the complaint is upheld or rejected." in refused.text
    dbsession.expire_all()
    assert complaint.status == "registered"

    _decide(rita, complaint, "rejected", "The licence was valid on the day of the bid.")
    dbsession.expire_all()
    assert complaint.status == "rejected"
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.status == "paid"
    assert dbsession.scalar(select(RefundLine).where(RefundLine.bill_id == fee.bill.id)) is None
    assert billing_ledger.account_balance(dbsession, REVENUE).get("EUR", 0) == -FEE
    assert made.tender.status == "standstill"
    assert dbsession.get(Award, award.id).status == AWARD_ACTIVE
    (rejected,) = mails_to(keys_dir, QUINN, complaint.public_id, "rejected")
    assert "The licence was valid on the day of the bid." in rejected

    clock.set(award.standstill_until + dt.timedelta(minutes=1))
    advance_tenders(wsgi_app.registry)
    dbsession.expire_all()
    assert dbsession.get(Tender, made.tender.id).status == "contracting"


def test_an_unpaid_complaint_lapses_at_the_standstill_end_but_a_payment_under_way_is_waited_for(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    olga = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-olga")
    unpaid = complaint_of(dbsession, file(quinn.app, reference, status=303))
    paying = complaint_of(dbsession, file(olga.app, reference, "Scores were wrong.", status=303))
    hosted, _payment = start_paying(olga, paying)

    # the standstill holds while complaints are open; before its end nothing lapses
    clock.set(award.standstill_until - dt.timedelta(minutes=1))
    assert lapse_complaints(wsgi_app.registry) == 0
    clock.set(award.standstill_until + dt.timedelta(minutes=1))
    assert lapse_complaints(wsgi_app.registry) == 1
    advance_tenders(wsgi_app.registry)

    dbsession.expire_all()
    assert unpaid.status == "lapsed"
    (fee,) = with_status(dbsession, [unpaid.fee_bill])
    assert fee.status == "cancelled"
    assert mails_to(keys_dir, QUINN, unpaid.public_id, "lapsed")
    assert paying.status == "awaiting_payment"
    assert dbsession.get(Tender, made.tender.id).status == "standstill"

    # waited for, it settles after the standstill's end: too late to register, so the fee
    # is refunded and the complaint lapses; the standstill then ends
    finish_paying(olga, hosted)
    dbsession.expire_all()
    assert paying.status == "lapsed" and paying.registered_at is None
    _assert_refunded(dbsession, paying)
    assert mails_to(keys_dir, OLGA, paying.public_id, "paid after")
    assert lapse_complaints(wsgi_app.registry) == 0
    advance_tenders(wsgi_app.registry)
    dbsession.expire_all()
    assert dbsession.get(Tender, made.tender.id).status == "contracting"


def _assert_refunded(dbsession, complaint):
    """The complaint's fee given back in full, its bill cancelled, the revenue back to zero."""
    refund = dbsession.scalars(
        select(Refund).join(RefundLine).where(RefundLine.bill_id == complaint.fee_bill_id)
    ).one()
    assert refund.status == "succeeded" and refund.amount_minor == FEE
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.status == "cancelled"
    assert billing_ledger.account_balance(dbsession, REVENUE).get("EUR", 0) == 0


def test_after_the_standstill_the_fee_is_not_offered_and_a_late_payment_is_refunded(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    page = f"/complaints/{complaint.public_id}"
    assert "pay-form" in quinn.app.get(page).forms

    clock.set(award.standstill_until)
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    shown = quinn.app.get(page)
    assert "pay-form" not in shown.forms
    assert "can no longer be paid" in shown.html.select_one("#too-late").text

    # paid anyway, from the organisation's bills, ahead of the lapsing job: never registered
    group = next(
        int(key.removeprefix("pay-"))
        for key, form in quinn.app.get("/bills").forms.items()
        if str(key).startswith("pay-") and complaint.fee_bill.public_id in form.text
    )
    finish_paying(quinn, quinn.checkout(quinn.pay([complaint.fee_bill], group=group)))
    dbsession.expire_all()
    assert complaint.status == "lapsed" and complaint.registered_at is None
    _assert_refunded(dbsession, complaint)
    (late,) = mails_to(keys_dir, QUINN, complaint.public_id, "paid after")
    assert "refunded" in late
    rita = browser(wsgi_app, devidp, "reviewer-rita")
    assert complaint.public_id not in rita.get("/review/complaints").text


def test_a_fee_paid_once_the_tender_is_cancelled_is_refunded_not_registered(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    hosted, _payment = start_paying(quinn, complaint)
    with task_dbsession(wsgi_app.registry) as session:
        buyer = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
        tender = session.get_one(Tender, made.tender.id)
        cancel_tender(session, tender, actor=buyer, reason="Budget withdrawn.", now=clock.now())
    # the payment under way is waited for, not cancelled under it
    assert lapse_complaints(wsgi_app.registry) == 0
    assert "pay-form" not in quinn.app.get(f"/complaints/{complaint.public_id}").forms

    assert clock.now() < award.standstill_until
    finish_paying(quinn, hosted)
    dbsession.expire_all()
    assert complaint.status == "lapsed" and complaint.registered_at is None
    _assert_refunded(dbsession, complaint)
    assert mails_to(keys_dir, QUINN, complaint.public_id, "paid after")


def test_a_paid_complaint_not_yet_registered_is_never_lapsed(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    """The lapsing looks again under its lock: a fee seen paid is left alone, even if the
    complaint still reads awaiting payment (its payment's transaction has the last word)."""
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    pay(quinn, complaint)
    with task_dbsession(wsgi_app.registry) as session:
        # as a payment's transaction sees it before its subscriber registers the complaint
        session.get_one(Complaint, complaint.id).status = "awaiting_payment"
    clock.set(award.standstill_until + dt.timedelta(minutes=1))
    with task_dbsession(wsgi_app.registry) as session:
        tender = session.get_one(Tender, made.tender.id)
        assert lapse_unpaid(session, tender, clock.now()) == []
    dbsession.expire_all()
    assert complaint.status == "awaiting_payment"
    (fee,) = with_status(dbsession, [complaint.fee_bill])
    assert fee.settled and fee.status != "cancelled"


def test_who_may_file_and_when(wsgi_app, devidp, sandbox, dbsession, clock, departments):
    set_fee(dbsession)
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    peter = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-peter")

    # before the award: no standstill
    page = quinn.app.get(f"/tenders/{reference}/complaints/new")
    assert "complaint-form" not in page.forms
    assert "only during the standstill period" in page.html.select_one("#cannot-complain").text

    award = award_to(dbsession, made, "rep-peter", clock.now())
    # the winner does not complain about its own award
    page = peter.app.get(f"/tenders/{reference}/complaints/new")
    assert "cannot complain about its own award" in page.text
    assert "complaint-form" not in page.forms

    # a complaint says what it is about
    form = quinn.app.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"]
    form["text"] = "   "
    refused = form.submit(status=422)
    assert "Say what your complaint is." in refused.text
    # a document is checked by its content
    form = quinn.app.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"]
    form["text"] = "See the attachment."
    form["documents"] = [("evil.pdf", b"MZ\x90\x00 not a document")]
    refused = form.submit(status=415)
    assert "not a document of a type we accept" in refused.text
    assert dbsession.scalars(select(Complaint)).all() == []

    # one open complaint per organisation and award (a second click on the same form too)
    forms = [quinn.app.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"]]
    forms.append(quinn.app.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"])
    for form in forms:
        form["text"] = "The winner's bid misses the required licence."
    forms[0].submit(status=303)
    refused = forms[1].submit(status=409)
    assert "already has a complaint open" in refused.text
    page = quinn.app.get(f"/tenders/{reference}/complaints/new")
    assert "complaint-form" not in page.forms and "already has a complaint open" in page.text

    # at the standstill's end: refused, a form opened just before included
    clock.set(award.standstill_until - dt.timedelta(minutes=1))
    olga = browser(wsgi_app, devidp, "rep-olga")
    form = olga.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"]
    form["text"] = "Too late."
    clock.set(award.standstill_until)
    refused = form.submit(status=409)
    assert "only during the standstill period" in refused.text
    assert "complaint-form" not in olga.get(f"/tenders/{reference}/complaints/new").forms
    assert len(dbsession.scalars(select(Complaint)).all()) == 1


def test_without_a_fee_in_force_a_complaint_is_refused_clearly(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    set_fee(dbsession, since=(clock.now() + dt.timedelta(days=30)).date())
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    award_to(dbsession, made, "rep-peter", clock.now())
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    page = quinn.app.get(f"/tenders/{made.tender.reference}/complaints/new")
    assert "No complaint fee is in force today" in page.text
    token = _csrf(quinn.app.get("/bills"))
    refused = quinn.app.post(
        f"/tenders/{made.tender.reference}/complaints/new",
        {"text": "The award is wrong.", "csrf_token": token},
        headers=SAME_SITE,
        status=503,
    )
    assert "No complaint fee is in force today" in refused.text
    assert dbsession.scalars(select(Complaint)).all() == []

    # an administrator sets the price on the fees page, from today: complaints are billed it
    ada = browser(wsgi_app, devidp, "admin-ada")
    form = ada.get("/admin/fees").forms["fee-form"]
    form["service_code"] = "tender-complaint-fee"
    form["item_code"] = "complaint"
    form["label"] = "Complaint against a tender award"
    form["amount"] = "320.00"
    today = clock.now().astimezone(clock.timezone).date()
    form["effective_from-day"] = str(today.day)
    form["effective_from-month"] = str(today.month)
    form["effective_from-year"] = str(today.year)
    form.submit(status=303)
    complaint = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    assert complaint.fee_bill.total_minor == 320_00


def test_a_complaint_is_seen_by_its_organisation_the_buyers_and_reviewers_only(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    """The organisation reads its complaint on /complaints/...; the buyers and reviewers read
    it only on their own clerk pages, reached from the buyer's tender and evaluation pages and
    the reviewers' queue."""
    made, _award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    complaint = complaint_of(dbsession, file(quinn.app, reference, status=303))
    page = f"/complaints/{complaint.public_id}"
    document = quinn.app.get(page).html.select_one("#documents a")["href"]
    review = f"/review/complaints/{complaint.public_id}"
    buyers = f"/procurement/complaints/{complaint.public_id}"

    bruno = browser(wsgi_app, devidp, "buyer-bruno")
    rita = browser(wsgi_app, devidp, "reviewer-rita")
    assert quinn.app.get(document).body.startswith(b"%PDF")
    # the buyer finds it from the tender's page and the evaluation page
    for start in (
        f"/procurement/tenders/{reference}",
        f"/procurement/tenders/{reference}/evaluation",
    ):
        (link,) = bruno.get(start).html.select("#complaints a")
        assert link["href"] == buyers
    for app, own in ((quinn.app, page), (bruno, buyers), (rita, review)):
        shown = app.get(own)
        assert "misses the required licence." in shown.text
        own_document = shown.html.select_one("#documents a")["href"]
        assert own_document.startswith(own + "/documents/")
        assert app.get(own_document).body.startswith(b"%PDF")
        assert "pay-form" not in shown.forms or app is quinn.app
    # the organisation's page is not theirs: clerks read through their clerk routes only
    for app in (bruno, rita):
        app.get(page, status=404)
        app.get(document, status=404)
    bruno.get(review, status=404)
    rita.get(buyers, status=404)
    others = [browser(wsgi_app, devidp, persona) for persona in ("rep-olga", "rep-peter")]
    for app in others:
        for path in (page, document, review, buyers, buyers + document[len(page) :]):
            app.get(path, status=404)
    quinn.app.get(review, status=404)
    quinn.app.get(buyers, status=404)
    quinn.app.get("/review/complaints", status=403)
    quinn.app.get("/complaints/" + "x" * 32, status=404)
    assert "decision-form" not in rita.get(review).forms  # not registered: not paid yet


def test_a_second_complaint_upheld_after_the_award_was_withdrawn_refunds_its_fee_too(
    wsgi_app, devidp, sandbox, dbsession, clock, departments
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    reference = made.tender.reference
    filed = []
    for persona in ("rep-quinn", "rep-olga"):
        payer = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, persona)
        complaint = complaint_of(dbsession, file(payer.app, reference, status=303))
        pay(payer, complaint)
        filed.append(complaint)
    rita = browser(wsgi_app, devidp, "reviewer-rita")
    _decide(rita, filed[0], "upheld", "The winner's licence had expired.")
    _decide(rita, filed[1], "upheld", "Same ground as the first complaint.")

    dbsession.expire_all()
    assert [complaint.status for complaint in filed] == ["upheld", "upheld"]
    refunds = dbsession.scalars(select(Refund).order_by(Refund.id)).all()
    assert [(r.status, r.amount_minor) for r in refunds[-2:]] == [("succeeded", FEE)] * 2
    assert billing_ledger.account_balance(dbsession, REVENUE).get("EUR", 0) == 0
    assert dbsession.get(Tender, made.tender.id).status == "evaluation"
    assert dbsession.get(Award, award.id).status == AWARD_CANCELLED


def test_an_unpaid_complaint_lapses_once_the_tender_is_cancelled(
    wsgi_app, devidp, sandbox, dbsession, clock, departments, keys_dir
):
    made, award = _awarded(wsgi_app, devidp, sandbox, dbsession, clock)
    quinn = signed_in_payer(wsgi_app, devidp, sandbox, dbsession, "rep-quinn")
    unpaid = complaint_of(dbsession, file(quinn.app, made.tender.reference, status=303))
    with task_dbsession(wsgi_app.registry) as session:
        buyer = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
        tender = session.get_one(Tender, made.tender.id)
        cancel_tender(session, tender, actor=buyer, reason="Budget withdrawn.", now=clock.now())

    # long before the standstill would have ended: the award it complains about is gone
    assert clock.now() < award.standstill_until
    assert lapse_complaints(wsgi_app.registry) == 1
    dbsession.expire_all()
    assert unpaid.status == "lapsed"
    (fee,) = with_status(dbsession, [unpaid.fee_bill])
    assert fee.status == "cancelled"
    assert mails_to(keys_dir, QUINN, unpaid.public_id, "lapsed")
