"""Opening the bids: the m-th share opens every current bid in the same transaction, records
what each offers, flags what was tampered with, and leaves no share waiting.

These drive :mod:`portal.procurement.opening` directly on the real database; the pages that
call it are tested in ``test_opening_pages.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.money import Money
from portal.procurement import bid_content, opening, sealing, state, tenders
from portal.procurement.bid_content import BidDocument
from portal.procurement.committee_keys import WrongPassphrase
from portal.procurement.models import (
    BidVersion,
    Tender,
    TenderTransition,
    WaitingShare,
)
from portal.procurement.seal_macs import seal_mac
from tests import factories
from tests.functional.procurement.opening_support import (
    PASSPHRASE,
    PDF,
    VAULT,
    member,
    sealed_bid,
    sealed_version,
)


@pytest.fixture
def vault(wsgi_app):
    return wsgi_app.registry["pii_vault"]


@pytest.fixture
def tender(dbsession, clock):
    made = factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    return made


def after_opening_time(dbsession, tender):
    now = tender.opening_at + dt.timedelta(minutes=1)
    state.advance(dbsession, tender, now)
    return now


def unlock_as(dbsession, tender, name_id, vault, now, passphrase=PASSPHRASE):
    return opening.unlock(dbsession, tender, member(dbsession, name_id), passphrase, vault, now)


def waiting(dbsession, tender):
    return dbsession.scalar(
        select(func.count()).select_from(WaitingShare).where(WaitingShare.tender_id == tender.id)
    )


def test_one_share_short_nothing_opens(dbsession, tender, vault, clock):
    version = sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    now = after_opening_time(dbsession, tender)
    assert unlock_as(dbsession, tender, "clerk-clara", vault, now).missing == 1
    assert tender.status == state.AWAITING_OPENING
    assert version.opened_price_minor is None
    assert waiting(dbsession, tender) == 1


def test_cancelling_the_tender_deletes_its_waiting_shares(dbsession, tender, vault, clock):
    now = after_opening_time(dbsession, tender)
    unlock_as(dbsession, tender, "clerk-clara", vault, now)
    other = factories.tender(dbsession, now=clock.now(), title="Snow clearing")
    unlock_as(dbsession, other, "clerk-clara", vault, after_opening_time(dbsession, other))
    buyer = member(dbsession, "buyer-bruno")
    tenders.cancel_tender(dbsession, tender, actor=buyer, reason="Budget withdrawn", now=now)
    assert tender.status == state.CANCELLED
    assert waiting(dbsession, tender) == 0
    assert waiting(dbsession, other) == 1


def test_a_waiting_share_that_no_longer_decrypts_is_replaced_and_not_counted(
    dbsession, tender, vault
):
    now = after_opening_time(dbsession, tender)
    clara, dan = member(dbsession, "clerk-clara"), member(dbsession, "clerk-dan")
    dbsession.add(
        WaitingShare(tender_id=tender.id, member_id=dan.id, encrypted=b"garbage", unlocked_at=now)
    )
    dbsession.flush()
    # dan's unreadable share does not make clara's the second: nothing opens
    assert unlock_as(dbsession, tender, "clerk-clara", vault, now).missing == 1
    assert [share.member_id for share in opening.waiting_shares(dbsession, tender)] == [clara.id]
    # and dan, no longer held to have unlocked, opens the bids with his share
    assert unlock_as(dbsession, tender, "clerk-dan", vault, now).opened
    assert waiting(dbsession, tender) == 0


def test_a_wrong_passphrase_counts_nothing(dbsession, tender, vault):
    now = after_opening_time(dbsession, tender)
    with pytest.raises(WrongPassphrase):
        unlock_as(dbsession, tender, "clerk-clara", vault, now, passphrase="not it")
    assert waiting(dbsession, tender) == 0


def test_the_mth_share_opens_every_current_bid_and_deletes_the_waiting_shares(
    dbsession, tender, vault, clock
):
    submitted = clock.now()
    offer = BidDocument("technical offer.pdf", "application/pdf", PDF)
    northwind = sealed_bid(
        dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=submitted, documents=(offer,)
    )
    southgate = sealed_bid(dbsession, tender, "Southgate Builders Ltd", 201_250_00, now=submitted)
    # a replaced version and a withdrawn bid are not opened
    replaced = sealed_bid(dbsession, tender, "Eastfield Works Ltd", 150_000_00, now=submitted)
    replaced.status = "replaced"
    current = sealed_version(dbsession, replaced.bid, 149_000_00, now=submitted, number=2)
    withdrawn = sealed_bid(dbsession, tender, "Westbrook Ltd", 99_000_00, now=submitted)
    withdrawn.status = "withdrawn"
    withdrawn.bid.status = "withdrawn"
    dbsession.flush()
    now = after_opening_time(dbsession, tender)

    unlock_as(dbsession, tender, "clerk-clara", vault, now)
    assert unlock_as(dbsession, tender, "clerk-mia", vault, now).opened

    assert northwind.opened_price_minor == 198_500_00
    assert json.loads(northwind.opened_answers_json) == {"1": "Delivery in 90 days"}
    assert southgate.opened_price_minor == 201_250_00
    assert current.opened_price_minor == 149_000_00
    assert replaced.opened_price_minor is None
    assert withdrawn.opened_price_minor is None
    assert [v.opening_fault for v in (northwind, southgate, current)] == [None, None, None]
    [document] = northwind.opened_documents
    assert document.filename == "technical offer.pdf"
    assert document.file.content == PDF
    assert document.file.media_type == "application/pdf"
    assert waiting(dbsession, tender) == 0
    # opened, and in the same transaction on to the evaluation
    assert tender.status == state.EVALUATION
    assert tender.opened_at == now
    opened, evaluation = dbsession.scalars(
        select(TenderTransition)
        .where(TenderTransition.tender_id == tender.id)
        .order_by(TenderTransition.id.desc())
        .limit(2)
    ).all()[::-1]
    assert (opened.from_status, opened.to_status, opened.cause) == (
        state.AWAITING_OPENING,
        state.OPENED,
        "opened by the committee",
    )
    assert opened.actor_id == member(dbsession, "clerk-mia").id
    assert (evaluation.from_status, evaluation.to_status) == (state.OPENED, state.EVALUATION)


def test_tampered_bids_are_flagged_while_the_others_open(dbsession, tender, vault, clock):
    honest = sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    altered = sealed_bid(dbsession, tender, "Southgate Builders Ltd", 201_250_00, now=clock.now())
    rehashed = sealed_bid(dbsession, tender, "Eastfield Works Ltd", 175_000_00, now=clock.now())
    altered.sealed = flipped(altered.sealed)
    # altered, its hash recomputed and its seal's MAC too (with the server's configuration):
    # the authenticated encryption still tells
    rehashed.sealed = flipped(rehashed.sealed)
    rehashed.sha256 = hashlib.sha256(rehashed.sealed).hexdigest()
    rehashed.seal_mac = mac_of(rehashed)
    dbsession.flush()
    now = after_opening_time(dbsession, tender)
    unlock_as(dbsession, tender, "clerk-dan", vault, now)
    assert unlock_as(dbsession, tender, "clerk-clara", vault, now).opened

    assert honest.opened_price_minor == 198_500_00 and honest.opening_fault is None
    assert altered.opened_price_minor is None
    assert altered.opening_fault == "The sealed bid does not match the SHA-256 on its receipt."
    assert rehashed.opened_price_minor is None
    assert rehashed.opening_fault.startswith("The sealed bid fails authentication")
    assert tender.status == state.EVALUATION


def flipped(blob: bytes) -> bytes:
    middle = len(blob) // 2
    return blob[:middle] + bytes([blob[middle] ^ 0x01]) + blob[middle + 1 :]


def test_an_unreadable_opened_bid_is_flagged(dbsession, tender, vault, clock):
    version = sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    sealed = sealing.seal_bid(
        tender.public_key, tender.reference, version.bid.public_id, 1, b"not a bid"
    )
    version.sealed, version.sha256 = sealed.blob, sealed.sha256
    version.seal_mac = mac_of(version)
    dbsession.flush()
    now = after_opening_time(dbsession, tender)
    unlock_as(dbsession, tender, "clerk-dan", vault, now)
    unlock_as(dbsession, tender, "clerk-clara", vault, now)
    assert version.opened_price_minor is None
    assert version.opening_fault.startswith("The opened bid is unreadable")


def mac_of(version: BidVersion) -> str:
    """The seal's MAC of ``version`` as it now stands: only the server's HMAC key makes it."""
    bid = version.bid
    return seal_mac(VAULT, bid.tender.reference, bid.public_id, version.number, version.sha256)


def test_a_bid_sealed_anew_in_the_database_is_not_accepted(dbsession, tender, vault, clock):
    """The tender's public key is public: with write access to the database alone, one can
    seal another price for a bid and store it with its own hash. The seal's MAC, made at the
    submission under a key not in the database, no longer matches: the bid is flagged and its
    forged price not recorded, while the untouched bids open."""
    honest = sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    forged = sealed_bid(dbsession, tender, "Southgate Builders Ltd", 201_250_00, now=clock.now())
    unmarked = sealed_bid(dbsession, tender, "Eastfield Works Ltd", 175_000_00, now=clock.now())
    lower = bid_content.BidContent(price=Money(99_000_00, tender.currency), answers={})
    resealed = sealing.seal_bid(
        tender.public_key,
        tender.reference,
        forged.bid.public_id,
        forged.number,
        bid_content.encode(lower),
    )
    forged.sealed, forged.sha256 = resealed.blob, resealed.sha256
    unmarked.seal_mac = None
    dbsession.flush()
    now = after_opening_time(dbsession, tender)
    unlock_as(dbsession, tender, "clerk-dan", vault, now)
    assert unlock_as(dbsession, tender, "clerk-clara", vault, now).opened

    assert honest.opened_price_minor == 198_500_00 and honest.opening_fault is None
    for version in (forged, unmarked):
        assert version.opened_price_minor is None
        assert version.opened_answers_json is None
        assert version.opening_fault == (
            "The sealed bid does not match what was recorded at its submission."
        )
    assert tender.status == state.EVALUATION


def test_a_seal_moved_to_another_bid_is_not_accepted(dbsession, tender, vault, clock):
    """The MAC names the bid and its version: a genuine seal, hash and MAC copied onto another
    bid's row do not pass as that bid's."""
    source = sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 150_000_00, now=clock.now())
    target = sealed_bid(dbsession, tender, "Southgate Builders Ltd", 201_250_00, now=clock.now())
    target.sealed, target.sha256, target.seal_mac = source.sealed, source.sha256, source.seal_mac
    dbsession.flush()
    now = after_opening_time(dbsession, tender)
    unlock_as(dbsession, tender, "clerk-dan", vault, now)
    unlock_as(dbsession, tender, "clerk-clara", vault, now)
    assert source.opened_price_minor == 150_000_00
    assert target.opened_price_minor is None
    assert target.opening_fault.startswith("The sealed bid does not match what was recorded")


@pytest.mark.postgresql
def test_two_members_unlocking_at_once_are_both_counted(
    wsgi_app, engine, dbsession, tender, vault, clock
):
    """Both take the tender's row lock in turn: the second sees the first's waiting share
    and opens the bids (without the lock each would wait for the other for ever)."""
    sealed_bid(dbsession, tender, "Northwind Supplies Ltd", 198_500_00, now=clock.now())
    dbsession.commit()
    now = tender.opening_at + dt.timedelta(minutes=1)
    factory = wsgi_app.registry["dbsession_factory"]
    barrier = threading.Barrier(2)

    def unlock_in_own_transaction(name_id):
        session = factory(bind=engine)
        try:
            own = session.get(Tender, tender.id)
            state.advance(session, own, now)
            session.commit()
            barrier.wait(timeout=30)
            result = unlock_as(session, own, name_id, vault, now)
            session.commit()
            return result.missing
        finally:
            session.close()

    with ThreadPoolExecutor(2) as pool:
        missing = sorted(pool.map(unlock_in_own_transaction, ["clerk-clara", "clerk-dan"]))
    assert missing == [0, 1]
    dbsession.expire_all()
    assert dbsession.get(Tender, tender.id).status == state.EVALUATION
    assert waiting(dbsession, tender) == 0
    assert dbsession.scalar(select(BidVersion.opened_price_minor)) == 198_500_00
    opened = dbsession.scalar(
        select(func.count())
        .select_from(TenderTransition)
        .where(TenderTransition.to_status == state.OPENED)
    )
    assert opened == 1
