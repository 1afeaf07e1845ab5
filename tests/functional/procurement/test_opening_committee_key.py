"""A clerk sets up their committee key once, under a passphrase typed twice; it cannot be
replaced while they hold a share of a tender not yet opened."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.procurement.committee_keys import WrongPassphrase, unlock_committee_key
from portal.procurement.models import CommitteeKey
from tests import factories
from tests.functional.procurement.opening_support import PASSPHRASE, member

URL = "/procurement/committee-key"
NEW = "a new passphrase, long enough"


def key_of(dbsession, name_id):
    dbsession.expire_all()
    user = member(dbsession, name_id)
    if user is None:
        return None
    return dbsession.scalar(select(CommitteeKey).where(CommitteeKey.user_id == user.id))


def set_up(app, passphrase, again, status):
    form = app.get(URL).forms["committee-key-form"]
    form["passphrase"] = passphrase
    form["passphrase_again"] = again
    return form.submit(status=status)


def test_the_page_says_a_lost_passphrase_cannot_be_recovered(signed_in):
    page = signed_in("clerk-clara").get(URL, status=200)
    assert "cannot recover a lost passphrase" in page.text
    assert "have not set up a committee key" in page.text


@pytest.mark.parametrize("persona", ["citizen-ana", "rep-olga", "buyer-bruno"])
def test_only_clerks_set_up_a_committee_key(signed_in, persona):
    app = signed_in(persona)
    app.get(URL, status=403)
    app.post(URL, {"passphrase": NEW, "passphrase_again": NEW}, status=403)


def test_passphrases_that_differ_are_refused(signed_in, dbsession):
    page = set_up(signed_in("clerk-clara"), NEW, NEW + "!", status=422)
    assert "The two passphrases differ" in page.text
    assert key_of(dbsession, "clerk-clara") is None


def test_a_short_passphrase_is_refused(signed_in, dbsession):
    page = set_up(signed_in("clerk-clara"), "eleven char", "eleven char", status=422)
    assert "Choose a passphrase of 12 to 1024 characters" in page.text
    assert key_of(dbsession, "clerk-clara") is None


def test_a_clerk_sets_up_a_key_only_their_passphrase_unlocks(signed_in, dbsession):
    app = signed_in("clerk-clara")
    set_up(app, NEW, NEW, status=303)
    assert "set up your committee key on" in app.get(URL).text
    key = key_of(dbsession, "clerk-clara")
    assert NEW.encode() not in key.sealed_private_key
    unlocked = unlock_committee_key(key.sealed_private_key, NEW)
    assert unlocked.public_key().public_bytes_raw() == key.public_key
    with pytest.raises(WrongPassphrase):
        unlock_committee_key(key.sealed_private_key, PASSPHRASE)


def test_a_key_is_not_replaced_while_its_holder_sits_on_an_unopened_tender(
    signed_in, dbsession, clock
):
    factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    before = key_of(dbsession, "clerk-clara").public_key
    app = signed_in("clerk-clara")
    page = app.get(URL)
    assert "cannot be replaced while you sit on the committee" in page.text
    assert "committee-key-form" not in page.forms
    refused = app.post(
        URL,
        {"passphrase": NEW, "passphrase_again": NEW, "csrf_token": csrf_of(app)},
        headers={"Origin": "https://localhost"},
        status=409,
    )
    assert "It cannot be replaced until those tenders are opened" in refused.text
    assert key_of(dbsession, "clerk-clara").public_key == before


def test_a_key_is_replaced_when_its_holder_holds_no_live_share(signed_in, dbsession):
    factories.committee_member(dbsession, "clerk-clara")
    dbsession.commit()
    before = key_of(dbsession, "clerk-clara").public_key
    set_up(signed_in("clerk-clara"), NEW, NEW, status=303)
    after = key_of(dbsession, "clerk-clara")
    assert after.public_key != before
    unlock_committee_key(after.sealed_private_key, NEW)


def csrf_of(app):
    return app.get("/account").html.find("input", {"name": "csrf_token"})["value"]
