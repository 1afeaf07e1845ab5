"""Sealed bids: unreadable until m committee members unlock their shares, and tampering shows."""

import hashlib
import itertools
import json

import pytest
import shamir_mnemonic

from portal.procurement.committee_keys import (
    CommitteeKey,
    DamagedCommitteeKey,
    KdfCost,
    WrongPassphrase,
    create_committee_key,
    unlock_committee_key,
)
from portal.procurement.sealing import (
    CommitteeMember,
    EncryptedShare,
    NotEnoughShares,
    Opening,
    RecordedBid,
    ShareRefused,
    TenderKey,
    UnlockedShare,
    create_tender_key,
    seal_bid,
    unlock_share,
)

# Argon2id's smallest cost: the tests exercise the format, not the slowness.
CHEAP = KdfCost(iterations=1, memory_kib=8, lanes=1)
TENDER = "T-2027-000012"
PRICE = "98765432"
DOCUMENT = b"%PDF-1.7 technical proposal: twelve buses, low floor, " * 40


def bid_content(price=PRICE, document=DOCUMENT):
    return json.dumps(
        {"price": price, "answers": {"delivery": "90 days"}, "documents": [document.hex()]},
        sort_keys=True,
    ).encode()


def make_committee(size):
    return {f"clerk-{i}": create_committee_key(f"passphrase {i}", cost=CHEAP) for i in range(size)}


def publish(keys, threshold, tender=TENDER):
    members = [CommitteeMember(member_id, key.public_key) for member_id, key in keys.items()]
    return create_tender_key(tender, members, threshold)


def unlocked(tender_key, keys, member_id, tender=TENDER):
    number = member_id.removeprefix("clerk-")
    member_key = unlock_committee_key(keys[member_id].sealed_private_key, f"passphrase {number}")
    [share] = [share for share in tender_key.shares if share.member_id == member_id]
    return unlock_share(share, tender, member_key)


def recorded(sealed, bid_id="bid-1", version=1):
    return RecordedBid(bid_id=bid_id, version=version, blob=sealed.blob, sha256=sealed.sha256)


def opening_with(tender_key, keys, member_ids, threshold):
    opening = Opening(TENDER, tender_key.public_key, threshold)
    for member_id in member_ids:
        opening.add(unlocked(tender_key, keys, member_id))
    return opening


@pytest.fixture(scope="module")
def committee():
    return make_committee(3)


@pytest.fixture(scope="module")
def tender_key(committee):
    return publish(committee, threshold=2)


def test_bids_sealed_at_submission_open_with_two_of_three_shares(committee, tender_key):
    first = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    second = seal_bid(tender_key.public_key, TENDER, "bid-2", 3, bid_content(price="1200"))
    empty = seal_bid(tender_key.public_key, TENDER, "bid-3", 1, b"")

    opened = opening_with(tender_key, committee, ["clerk-0", "clerk-2"], 2).open(
        [recorded(first), recorded(second, "bid-2", 3), recorded(empty, "bid-3")]
    )

    assert [(bid.bid_id, bid.version, bid.content, bid.tampered) for bid in opened] == [
        ("bid-1", 1, bid_content(), False),
        ("bid-2", 3, bid_content(price="1200"), False),
        ("bid-3", 1, b"", False),
    ]


def test_one_share_short_of_the_threshold_opens_nothing_and_says_how_many_more(
    committee, tender_key
):
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    opening = Opening(TENDER, tender_key.public_key, 2)
    assert opening.missing == 2
    opening.add(unlocked(tender_key, committee, "clerk-1"))
    opening.add(unlocked(tender_key, committee, "clerk-1"))

    assert opening.missing == 1
    with pytest.raises(NotEnoughShares, match="1 more unlocked share") as refused:
        opening.open([recorded(sealed)])
    assert refused.value.missing == 1


def test_any_three_of_five_shares_open_and_no_two_do():
    keys = make_committee(5)
    tender_key = publish(keys, threshold=3)
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())

    for trio in itertools.combinations(keys, 3):
        [bid] = opening_with(tender_key, keys, trio, 3).open([recorded(sealed)])
        assert bid.content == bid_content(), trio
    for pair in itertools.combinations(keys, 2):
        with pytest.raises(NotEnoughShares):
            opening_with(tender_key, keys, pair, 3).open([recorded(sealed)])


def test_an_opening_lets_its_shares_go_once_it_has_opened(committee, tender_key):
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    opening = opening_with(tender_key, committee, ["clerk-0", "clerk-1"], 2)
    opening.open([recorded(sealed)])

    assert opening.missing == 2
    with pytest.raises(NotEnoughShares):
        opening.open([recorded(sealed)])


def test_a_wrong_passphrase_is_refused_clearly():
    key = create_committee_key("correct horse battery staple", cost=CHEAP)

    with pytest.raises(WrongPassphrase, match="passphrase does not unlock"):
        unlock_committee_key(key.sealed_private_key, "correct horse battery stapler")
    with pytest.raises(ValueError, match="needs a passphrase"):
        create_committee_key("", cost=CHEAP)


def test_the_passphrase_is_compared_after_unicode_normalisation():
    key = create_committee_key("caf\u00e9 au lait", cost=CHEAP)

    unlocked_key = unlock_committee_key(key.sealed_private_key, "cafe\u0301 au lait")

    assert unlocked_key.public_key().public_bytes_raw() == key.public_key


def test_the_production_cost_is_the_default_and_unlocks():
    key = create_committee_key("a long production passphrase")

    unlocked_key = unlock_committee_key(key.sealed_private_key, "a long production passphrase")

    assert unlocked_key.public_key().public_bytes_raw() == key.public_key
    assert len(key.public_key) == 32


def test_a_damaged_committee_key_is_refused_and_an_altered_cost_is_a_wrong_passphrase():
    key = create_committee_key("passphrase", cost=CHEAP)
    altered_cost = bytearray(key.sealed_private_key)
    altered_cost[7] = 2  # the iterations field, 1 → 2: within bounds
    absurd_memory = bytearray(key.sealed_private_key)
    absurd_memory[8] = 0xFF  # the memory field: terabytes

    with pytest.raises(WrongPassphrase):
        unlock_committee_key(bytes(altered_cost), "passphrase")
    with pytest.raises(DamagedCommitteeKey):
        unlock_committee_key(bytes(absurd_memory), "passphrase")
    with pytest.raises(DamagedCommitteeKey):
        unlock_committee_key(key.sealed_private_key[:-1], "passphrase")


def test_a_share_of_another_tender_or_member_or_damaged_is_refused_and_not_counted(
    committee, tender_key
):
    member_key = unlock_committee_key(committee["clerk-0"].sealed_private_key, "passphrase 0")
    own, others = tender_key.shares[0], tender_key.shares[1]
    flipped = EncryptedShare(own.member_id, own.blob[:-1] + bytes([own.blob[-1] ^ 1]))
    claimed_by_another = EncryptedShare("clerk-1", own.blob)

    for share, tender in [
        (own, "T-2027-000013"),
        (others, TENDER),
        (flipped, TENDER),
        (claimed_by_another, TENDER),
    ]:
        with pytest.raises(ShareRefused):
            unlock_share(share, tender, member_key)

    opening = Opening(TENDER, tender_key.public_key, 2)
    other_tender = publish(committee, threshold=2, tender="T-2027-000013")
    with pytest.raises(ShareRefused, match="another tender"):
        opening.add(unlocked(other_tender, committee, "clerk-1", tender="T-2027-000013"))
    assert opening.missing == 2


def test_a_share_from_another_split_of_the_same_tender_is_refused(committee, tender_key):
    republished = publish(committee, threshold=2)
    opening = Opening(TENDER, tender_key.public_key, 2)
    opening.add(unlocked(tender_key, committee, "clerk-0"))

    with pytest.raises(ShareRefused, match="not from this tender's key"):
        opening.add(unlocked(republished, committee, "clerk-1"))
    assert opening.missing == 1

    wrong_first = Opening(TENDER, tender_key.public_key, 2)
    wrong_first.add(unlocked(republished, committee, "clerk-0"))
    wrong_first.add(unlocked(republished, committee, "clerk-1"))
    with pytest.raises(ShareRefused, match="do not rebuild this tender's key"):
        wrong_first.open([])


def test_a_share_with_a_changed_word_is_refused_as_damaged(committee, tender_key):
    share = unlocked(tender_key, committee, "clerk-0")
    words = share.mnemonic.split()
    words[-5] = "academic" if words[-5] != "academic" else "acid"
    damaged = UnlockedShare(share.tender_id, share.member_id, " ".join(words))
    opening = Opening(TENDER, tender_key.public_key, 2)

    with pytest.raises(ShareRefused, match="damaged"):
        opening.add(damaged)
    assert opening.missing == 2


@pytest.mark.parametrize("position", [0, 10, 40, 90, -20, -1])
def test_one_flipped_byte_is_reported_as_tampered_and_the_other_bids_still_open(
    committee, tender_key, position
):
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    intact = seal_bid(tender_key.public_key, TENDER, "bid-2", 1, bid_content(price="5"))
    blob = bytearray(sealed.blob)
    blob[position] ^= 0x01
    with_old_hash = RecordedBid("bid-1", 1, bytes(blob), sealed.sha256)
    with_new_hash = RecordedBid("bid-1", 1, bytes(blob), hashlib.sha256(blob).hexdigest())

    opening = opening_with(tender_key, committee, ["clerk-1", "clerk-2"], 2)
    hash_flagged, other = opening.open([with_old_hash, recorded(intact, "bid-2")])
    opening = opening_with(tender_key, committee, ["clerk-1", "clerk-2"], 2)
    [aead_flagged] = opening.open([with_new_hash])

    assert hash_flagged.tampered and hash_flagged.content is None
    assert "SHA-256" in hash_flagged.fault
    assert aead_flagged.tampered and aead_flagged.content is None
    assert other.content == bid_content(price="5") and not other.tampered


@pytest.mark.parametrize(
    ("tender", "bid_id", "version"),
    [(TENDER, "bid-2", 1), (TENDER, "bid-1", 2), ("T-2027-000013", "bid-1", 1)],
)
def test_a_sealed_bid_moved_to_another_bid_version_or_tender_does_not_open(
    committee, tender_key, tender, bid_id, version
):
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    opening = Opening(tender, tender_key.public_key, 2)
    for member_id in ["clerk-0", "clerk-1"]:
        share = unlocked(tender_key, committee, member_id)
        opening.add(UnlockedShare(tender, share.member_id, share.mnemonic))

    [bid] = opening.open([RecordedBid(bid_id, version, sealed.blob, sealed.sha256)])

    assert bid.tampered and bid.content is None
    assert "another bid or tender" in bid.fault


def test_a_changed_hash_on_record_flags_an_intact_bid(committee, tender_key):
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    forged_record = RecordedBid("bid-1", 1, sealed.blob, hashlib.sha256(b"other").hexdigest())

    [bid] = opening_with(tender_key, committee, ["clerk-0", "clerk-1"], 2).open([forged_record])

    assert bid.tampered and bid.content is None


def test_nothing_stored_reveals_a_price_a_document_or_a_key():
    keys = make_committee(3)
    tender_key = publish(keys, threshold=2)
    sealed = seal_bid(tender_key.public_key, TENDER, "bid-1", 1, bid_content())
    shares = [unlocked(tender_key, keys, member_id) for member_id in keys]
    tender_private_key = shamir_mnemonic.combine_mnemonics([s.mnemonic for s in shares[:2]])
    member_private_keys = [
        unlock_committee_key(key.sealed_private_key, f"passphrase {number}").private_bytes_raw()
        for number, key in enumerate(keys.values())
    ]
    stored = b"\0".join(
        [sealed.blob, sealed.sha256.encode(), tender_key.public_key]
        + [share.blob for share in tender_key.shares]
        + [key.public_key + key.sealed_private_key for key in keys.values()]
    )

    secrets = [PRICE.encode(), DOCUMENT[:32], DOCUMENT.hex()[:32].encode(), tender_private_key]
    secrets += member_private_keys
    secrets += [share.mnemonic.encode() for share in shares]
    secrets += [share.mnemonic.split()[-4].encode() + b" " for share in shares]
    secrets += [b"passphrase"]
    for secret in secrets:
        assert secret not in stored
        assert secret.hex().encode() not in stored


def test_keys_shares_and_seals_are_fresh_every_time(committee):
    first, second = publish(committee, 2), publish(committee, 2)
    same_passphrase = [create_committee_key("same", cost=CHEAP) for _ in range(2)]
    seals = [seal_bid(first.public_key, TENDER, "bid-1", 1, bid_content()) for _ in range(2)]

    assert first.public_key != second.public_key
    assert {s.blob for s in first.shares}.isdisjoint({s.blob for s in second.shares})
    assert len({s.blob for s in first.shares}) == 3
    assert same_passphrase[0].public_key != same_passphrase[1].public_key
    assert same_passphrase[0].sealed_private_key != same_passphrase[1].sealed_private_key
    assert seals[0].blob != seals[1].blob and seals[0].sha256 != seals[1].sha256


def test_publication_returns_only_the_public_key_and_one_share_per_member(committee):
    tender_key = publish(committee, 2)

    assert isinstance(tender_key, TenderKey)
    assert [share.member_id for share in tender_key.shares] == list(committee)
    assert len(tender_key.public_key) == 32


@pytest.mark.parametrize(
    ("size", "threshold", "message"),
    [(3, 1, "2 <= threshold"), (3, 4, "got 4 of 3"), (17, 2, "got 2 of 17")],
)
def test_a_committee_that_cannot_keep_a_secret_is_refused(size, threshold, message):
    keys = {f"clerk-{i}": CommitteeKey(bytes(range(32)), b"") for i in range(size)}

    with pytest.raises(ValueError, match=message):
        publish(keys, threshold)


def test_a_member_named_twice_is_refused(committee):
    member = CommitteeMember("clerk-0", committee["clerk-0"].public_key)

    with pytest.raises(ValueError, match="one share only"):
        create_tender_key(TENDER, [member, member], 2)
