"""The committee's opening page: nothing before the opening time, a wrong passphrase not
counted, one share short nothing readable, and who may see the page at all."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from portal.procurement import sealing, state
from portal.procurement.committee_keys import unlock_committee_key
from portal.procurement.models import BidVersion, Tender, WaitingShare
from tests import factories
from tests.functional.procurement.opening_support import (
    PASSPHRASE,
    member,
    sealed_bid,
    unlock_on_page,
)


@pytest.fixture
def tender(dbsession, clock):
    """Published now with two sealed bids; the clock then moved past its opening time."""
    made = factories.tender(dbsession, now=clock.now())
    sealed_bid(dbsession, made, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    sealed_bid(dbsession, made, "Southgate Builders Ltd", 201_250_00, now=clock.now())
    dbsession.commit()
    clock.set(made.opening_at + dt.timedelta(minutes=5))
    return made


def opening_url(tender):
    return f"/procurement/tenders/{tender.reference}/opening"


def waiting(dbsession, tender):
    return dbsession.scalar(
        select(func.count()).select_from(WaitingShare).where(WaitingShare.tender_id == tender.id)
    )


def opened_prices(dbsession):
    return dbsession.scalars(
        select(BidVersion.opened_price_minor).where(BidVersion.opened_price_minor.is_not(None))
    ).all()


def status_of(dbsession, tender):
    dbsession.expire_all()
    return dbsession.get(Tender, tender.id).status


def test_before_the_opening_time_the_page_says_when_and_unlocks_nothing(
    signed_in, dbsession, clock
):
    tender = factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    clock.set(tender.bids_until + dt.timedelta(minutes=1))
    app = signed_in("clerk-clara")
    page = app.get(opening_url(tender), status=200)
    assert "The bids can be opened from" in page.text
    assert "unlock-form" not in page.forms
    # the deadline passed before any job ran: the page itself moved the tender on
    assert status_of(dbsession, tender) == state.AWAITING_OPENING
    csrf = page.html.find("input", {"name": "csrf_token"})["value"]
    refused = app.post(
        opening_url(tender),
        {"passphrase": PASSPHRASE, "csrf_token": csrf},
        headers={"Origin": "https://localhost"},
        status=409,
    )
    assert "This tender cannot be opened now." in refused.text
    assert waiting(dbsession, tender) == 0


def test_a_wrong_passphrase_is_refused_and_not_counted(signed_in, dbsession, tender, caplog):
    app = signed_in("clerk-clara")
    with caplog.at_level(logging.INFO):
        page = unlock_on_page(app, tender.reference, "not my passphrase at all", status=422)
    assert "That passphrase does not unlock your committee key" in page.text
    assert "2 more members must unlock" in page.text
    assert waiting(dbsession, tender) == 0
    assert "a wrong committee passphrase" in caplog.text
    assert "not my passphrase" not in caplog.text
    unlock_on_page(app, tender.reference)
    assert waiting(dbsession, tender) == 1


def test_too_many_attempts_are_refused_until_the_window_passes(signed_in, dbsession, tender, clock):
    app = signed_in("clerk-clara")
    for _attempt in range(5):
        unlock_on_page(app, tender.reference, "a guess at the passphrase", status=422)
    refused = unlock_on_page(app, tender.reference, PASSPHRASE, status=429)
    assert refused.headers["Retry-After"] == "900"
    assert waiting(dbsession, tender) == 0
    clock.advance(minutes=15, seconds=1)
    unlock_on_page(app, tender.reference)
    assert waiting(dbsession, tender) == 1


def test_one_share_short_nothing_is_readable_and_the_page_says_one_more(
    signed_in, dbsession, tender, wsgi_app
):
    app = signed_in("clerk-clara")
    unlock_on_page(app, tender.reference).follow()
    page = app.get(opening_url(tender))
    assert "1 more member must unlock their share" in page.text
    assert "You have unlocked your share" in page.text
    assert "unlock-form" not in page.forms
    members = [li.text for li in page.html.select("#members li")]
    assert members[0] == "Clara Zupan: unlocked"
    assert [text.endswith(": not unlocked yet") for text in members[1:]] == [True, True]
    assert status_of(dbsession, tender) == state.AWAITING_OPENING
    assert opened_prices(dbsession) == []
    # the waiting share is encrypted under the server's personal-data key, not in clear
    [share] = dbsession.scalars(select(WaitingShare)).all()
    clara = member(dbsession, "clerk-clara")
    [seat] = [seat for seat in tender.committee if seat.member_id == clara.id]
    in_clear = sealing.unlock_share(
        sealing.EncryptedShare(str(clara.id), seat.encrypted_share),
        tender.reference,
        unlock_committee_key(factories_key(dbsession, clara), PASSPHRASE),
    ).mnemonic
    assert in_clear.encode() not in share.encrypted
    assert in_clear.split()[3].encode() not in share.encrypted
    assert wsgi_app.registry["pii_vault"].decrypt(share.encrypted.decode()) == in_clear
    # unlocking twice counts once
    csrf = page.html.find("input", {"name": "csrf_token"})["value"]
    again = app.post(
        opening_url(tender),
        {"passphrase": PASSPHRASE, "csrf_token": csrf},
        headers={"Origin": "https://localhost"},
        status=409,
    )
    assert "You have unlocked your share already" in again.text
    assert waiting(dbsession, tender) == 1


def factories_key(dbsession, user):
    from portal.procurement.tenders import committee_key_of

    return committee_key_of(dbsession, user).sealed_private_key


@pytest.mark.parametrize("persona", ["rep-olga", "buyer-bruno", "clerk-mia"])
def test_only_the_committee_sees_the_opening_page(signed_in, dbsession, clock, persona):
    tender = factories.tender(dbsession, now=clock.now(), members=("clerk-clara", "clerk-dan"))
    dbsession.commit()
    clock.set(tender.opening_at + dt.timedelta(minutes=1))
    app = signed_in(persona)
    app.get(opening_url(tender), status=403)
    assert waiting(dbsession, tender) == 0


def test_a_draft_tender_has_no_opening_page(signed_in, dbsession, clock):
    tender = factories.tender(dbsession, now=clock.now(), published=False)
    dbsession.commit()
    signed_in("clerk-clara").get(opening_url(tender), status=404)


def test_a_waiting_share_that_no_longer_decrypts_is_not_counted_and_its_member_unlocks_again(
    signed_in, dbsession, tender, caplog
):
    """After the personal-data key was changed, a share left waiting cannot be read: the page
    counts it for nothing and its member may unlock again, which replaces it."""
    clara = member(dbsession, "clerk-clara")
    dbsession.add(
        WaitingShare(
            tender_id=tender.id,
            member_id=clara.id,
            encrypted=b"gAAAAA-under-a-key-since-replaced\xff",
            unlocked_at=tender.opening_at,
        )
    )
    dbsession.commit()
    app = signed_in("clerk-clara")
    page = app.get(opening_url(tender))
    assert "2 more members must unlock their shares" in page.text
    assert "Clara Zupan: not unlocked yet" in [li.text for li in page.html.select("#members li")]
    assert "unlock-form" in page.forms
    with caplog.at_level(logging.ERROR):
        unlock_on_page(app, tender.reference).follow()
    assert "no longer decrypts; deleted" in caplog.text
    page = app.get(opening_url(tender))
    assert "1 more member must unlock their share" in page.text
    [share] = dbsession.scalars(select(WaitingShare)).all()
    assert share.member_id == clara.id
    assert share.encrypted != b"gAAAAA-under-a-key-since-replaced\xff"
    assert status_of(dbsession, tender) == state.AWAITING_OPENING
