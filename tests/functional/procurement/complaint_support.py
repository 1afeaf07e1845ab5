"""What the complaint tests share: an award made on an opened tender (an Award row and the
standstill, until the award branch's own flow is merged), the complaint fee in the schedule,
a bidder filing and paying through the pages and the sandbox, and the mail sent."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.billing.tasks import settle_or_expire_payments
from portal.identity.models import User
from portal.procurement import state
from portal.procurement.models import Award, Complaint
from portal.services.models import FeeScheduleEntry
from tests.functional.billing.conftest import Payer
from tests.functional.procurement.after_opening import Opened, browser
from tests.functional.procurement.bidding import pdf
from tests.sandbox.conftest import SUCCESS

FEE = 500_00
STANDSTILL = dt.timedelta(days=10)


def set_fee(dbsession, amount: int = FEE, since: dt.date = dt.date(2020, 1, 1)) -> None:
    dbsession.add(
        FeeScheduleEntry(
            service_code="tender-complaint-fee",
            item_code="complaint",
            label="Complaint against a tender award",
            amount_minor=amount,
            currency="EUR",
            effective_from=since,
        )
    )
    dbsession.commit()


def award_to(dbsession, made: Opened, persona: str, now: dt.datetime) -> Award:
    """Award the tender to ``persona``'s bid at ``now``: the standstill runs STANDSTILL."""
    tender = made.tender
    bid = made.bid(dbsession, persona)
    buyer = dbsession.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
    award = Award(
        tender_id=tender.id,
        bid_id=bid.id,
        value_minor=bid.versions[-1].opened_price_minor,
        currency=tender.currency,
        reasons="The best-ranked bid, qualified.",
        decided_at=now,
        decided_by_id=buyer.id,
        standstill_until=now + STANDSTILL,
    )
    dbsession.add(award)
    dbsession.flush()
    state.transition(dbsession, tender, state.STANDSTILL, now=now, actor=buyer, cause="award")
    dbsession.commit()
    return award


def signed_in_payer(wsgi_app, devidp, sandbox, dbsession, persona: str) -> Payer:
    """``persona`` signed in anew (the clock has moved past the bidding's sessions), with
    their browser at the provider."""
    return Payer(browser(wsgi_app, devidp, persona), sandbox, dbsession)


def file(app, reference: str, text: str = "The winner's bid misses the required licence.", **kw):
    """File a complaint on the new-complaint page with one document; the response."""
    form = app.get(f"/tenders/{reference}/complaints/new").forms["complaint-form"]
    form["text"] = text
    form["documents"] = [("licence-check.pdf", pdf("licence check"))]
    return form.submit(**kw)


def complaint_of(dbsession, response) -> Complaint:
    public_id = urlsplit(response.location).path.rsplit("/", 1)[-1]
    dbsession.expire_all()
    return dbsession.scalars(select(Complaint).where(Complaint.public_id == public_id)).one()


def start_paying(payer: Payer, complaint: Complaint):
    """Press "Pay now" on the complaint's page and go on to the provider's page; the hosted
    page's URL and the payment's id (the payment is then under way)."""
    page = payer.app.get(f"/complaints/{complaint.public_id}")
    response = page.forms["pay-form"].submit(status=303)
    hosted = payer.checkout(response)
    return hosted, urlsplit(response.location).path.split("/")[2]


def finish_paying(payer: Payer, hosted: str) -> None:
    """Pay on the provider's page; the portal learns of it by the billing job's status query
    (the provider's signed notification carries the real time, which the test clock has
    left behind)."""
    assert payer.enter_card(hosted, SUCCESS).status_code == 303
    settle_or_expire_payments(payer.app.app.registry)


def pay(payer: Payer, complaint: Complaint) -> None:
    finish_paying(payer, start_paying(payer, complaint)[0])


def mails_to(keys_dir, address: str, *needles: str) -> list[str]:
    """The subject and body of each message sent to ``address`` that holds every needle (the
    folder holds the whole run's mail: a complaint's public id tells its own apart)."""
    folder = keys_dir / "mail"
    if not folder.exists():
        return []
    found = []
    for path in folder.iterdir():
        if not path.is_file():
            continue
        sent = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address not in str(sent["To"]):
            continue
        body = sent.get_body(preferencelist=("plain",))
        text = f"{sent['Subject']}\n{body.get_content() if body is not None else ''}"
        if all(needle in text for needle in needles):
            found.append(text)
    return found
