"""The opening: committee members unlock their shares one by one; the m-th opens every bid.

A member's passphrase unlocks their committee key, which decrypts their share of the tender's
key (:mod:`portal.procurement.sealing`). Fewer than m shares wait as :class:`WaitingShare`
rows, each encrypted under the server's personal-data key, so a copy of the database alone
shows nothing and one with the server's configuration too shows at most m - 1 shares, which
by Shamir's scheme say nothing about the key. The m-th share is never stored: in the same
transaction it rebuilds the key in memory, every current sealed bid is checked against what
was recorded at its submission (:mod:`portal.procurement.seal_macs`) and the hash on its
receipt and opened, the waiting shares are deleted and the tender is opened.

The tender's row is locked while a share is added, so two members unlocking at once are both
counted and exactly one of them opens the bids.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import contains_eager

from portal.i18n import _
from portal.procurement import auction, bid_content, files, prices, state
from portal.procurement.committee_keys import unlock_committee_key
from portal.procurement.models import (
    Bid,
    BidVersion,
    CommitteeSeat,
    OpenedBidDocument,
    OpeningProtocol,
    Tender,
    WaitingShare,
)
from portal.procurement.seal_macs import sealed_as_submitted
from portal.procurement.sealing import (
    EncryptedShare,
    Opening,
    RecordedBid,
    ShareRefused,
    UnlockedShare,
    unlock_share,
)
from portal.procurement.tenders import committee_key_of
from portal.refusals import CONFLICT, Refusal

log = logging.getLogger(__name__)

#: a bid version that is opened: the bid's current one (replaced and withdrawn ones are not)
CURRENT = "submitted"
WITHDRAWN = "withdrawn"
#: why a sealed bid whose seal's MAC is missing or wrong is not accepted
NOT_AS_SUBMITTED = "The sealed bid does not match what was recorded at its submission."


@dataclass(frozen=True)
class Unlocked:
    """What a member's unlocking did: ``missing`` more shares are needed (0: it opened)."""

    missing: int

    @property
    def opened(self) -> bool:
        return self.missing == 0


def seat_of(tender: Tender, user) -> CommitteeSeat | None:
    return next((seat for seat in tender.committee if seat.member_id == user.id), None)


def waiting_shares(dbsession, tender: Tender) -> list[WaitingShare]:
    return list(
        dbsession.scalars(
            select(WaitingShare)
            .where(WaitingShare.tender_id == tender.id)
            .order_by(WaitingShare.unlocked_at, WaitingShare.id)
        )
    )


def waiting_mnemonic(vault, waiting: WaitingShare) -> str | None:
    """The waiting share in clear; None if it no longer decrypts (the personal-data key was
    changed since it was unlocked): such a share counts for nothing."""
    return vault.decrypt(waiting.encrypted.decode("ascii", "replace"))


def readable_waiting_shares(dbsession, tender: Tender, vault) -> list[tuple[WaitingShare, str]]:
    """The waiting shares with their mnemonics; one that no longer decrypts is deleted, so
    that its member can unlock again."""
    readable = []
    for waiting in waiting_shares(dbsession, tender):
        mnemonic = waiting_mnemonic(vault, waiting)
        if mnemonic is None:
            log.error(
                "tender %s: the waiting share of user %s no longer decrypts; deleted",
                tender.reference,
                waiting.member_id,
            )
            dbsession.delete(waiting)
            continue
        readable.append((waiting, mnemonic))
    dbsession.flush()
    return readable


def can_unlock(tender: Tender, now: dt.datetime) -> bool:
    """The committee may unlock from the opening time while the tender awaits its opening."""
    return (
        tender.status == state.AWAITING_OPENING
        and tender.opening_at is not None
        and now >= tender.opening_at
    )


def unlock(dbsession, tender: Tender, member, passphrase: str, vault, now: dt.datetime) -> Unlocked:
    """Unlock ``member``'s share of ``tender`` with ``passphrase``; open the bids if it is the
    m-th. Raises :class:`~portal.procurement.committee_keys.WrongPassphrase` (nothing counted)
    or a :class:`Refusal`.

    The slow key derivation runs before the tender's row is locked, so members unlocking at
    once wait for each other only for the counting.
    """
    seat = seat_of(tender, member)
    key = committee_key_of(dbsession, member)
    if seat is None or seat.encrypted_share is None or key is None:
        raise Refusal(CONFLICT, _("You hold no share of this tender's key."), about=tender)
    _refuse_unless_open_for_unlocking(dbsession, tender, member, vault, now)
    member_key = unlock_committee_key(key.sealed_private_key, passphrase)
    try:
        share = unlock_share(
            EncryptedShare(str(member.id), seat.encrypted_share), tender.reference, member_key
        )
    except ShareRefused:
        log.error("tender %s: the share of user %s does not open", tender.reference, member.id)
        raise Refusal(
            CONFLICT,
            _(
                "Your share of this tender's key does not open with your committee key. "
                "The other members can still open the bids if enough of them unlock theirs."
            ),
            about=tender,
        ) from None
    del member_key
    dbsession.execute(
        select(Tender)
        .where(Tender.id == tender.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    waiting = _refuse_unless_open_for_unlocking(dbsession, tender, member, vault, now)
    opening = Opening(tender.reference, tender.public_key or b"", tender.committee_threshold)
    for stored, mnemonic in waiting:
        _add_waiting(opening, tender, stored, mnemonic)
    opening.add(share)
    if opening.missing:
        dbsession.add(
            WaitingShare(
                tender_id=tender.id,
                member_id=member.id,
                encrypted=vault.encrypt(share.mnemonic).encode("ascii"),
                unlocked_at=now,
            )
        )
        dbsession.flush()
        log.info(
            "tender %s: user %s unlocked a share, %d more needed",
            tender.reference,
            member.id,
            opening.missing,
        )
        return Unlocked(missing=opening.missing)
    open_bids(dbsession, tender, opening, member, vault, now)
    return Unlocked(missing=0)


def _refuse_unless_open_for_unlocking(
    dbsession, tender: Tender, member, vault, now: dt.datetime
) -> list[tuple[WaitingShare, str]]:
    """Refused unless the tender may be opened now and ``member``'s share is not waiting
    already; the shares that are waiting (and still decrypt) otherwise."""
    if not can_unlock(tender, now):
        raise Refusal(CONFLICT, _("This tender cannot be opened now."), about=tender)
    waiting = readable_waiting_shares(dbsession, tender, vault)
    if any(stored.member_id == member.id for stored, _mnemonic in waiting):
        raise Refusal(
            CONFLICT,
            _("You have unlocked your share already. The other members' shares are awaited."),
            about=tender,
        )
    return waiting


def _add_waiting(opening: Opening, tender: Tender, waiting: WaitingShare, mnemonic: str) -> None:
    """A waiting share back in memory; one that does not belong is left out."""
    try:
        opening.add(UnlockedShare(tender.reference, str(waiting.member_id), mnemonic))
    except ShareRefused:
        log.error("tender %s: a waiting share is refused", tender.reference)


def current_versions(dbsession, tender: Tender) -> list[BidVersion]:
    """The versions the opening opens: each bid's current one, never replaced or withdrawn."""
    return list(
        dbsession.scalars(
            select(BidVersion)
            .join(Bid, BidVersion.bid_id == Bid.id)
            .options(contains_eager(BidVersion.bid))
            .where(
                Bid.tender_id == tender.id,
                Bid.status != WITHDRAWN,
                BidVersion.status == CURRENT,
            )
            .order_by(BidVersion.submitted_at, BidVersion.id)
        )
    )


def open_bids(dbsession, tender: Tender, opening: Opening, member, vault, now: dt.datetime) -> None:
    """With the threshold reached: open every current bid whose seal is as submitted, record
    what each offers (or why it did not open), delete the waiting shares and open the tender.
    A bid whose seal is not as submitted is not even decrypted, like one whose hash differs."""
    versions = current_versions(dbsession, tender)
    as_submitted: list[BidVersion] = []
    not_as_submitted: list[BidVersion] = []
    for version in versions:
        (as_submitted if sealed_as_submitted(vault, version) else not_as_submitted).append(version)
    try:
        results = opening.open(
            RecordedBid(version.bid.public_id, version.number, version.sealed, version.sha256)
            for version in as_submitted
        )
    except ShareRefused:
        log.error("tender %s: the unlocked shares do not rebuild its key", tender.reference)
        raise Refusal(
            CONFLICT,
            _("The unlocked shares do not rebuild this tender's key. Nothing was opened."),
            about=tender,
        ) from None
    for version in not_as_submitted:
        version.opening_fault = NOT_AS_SUBMITTED
        log.warning(
            "tender %s: bid %s version %d is not as submitted: its seal's MAC is %s",
            tender.reference,
            version.bid.public_id,
            version.number,
            "wrong" if version.seal_mac else "missing",
        )
    kept: list[tuple[BidVersion, files.Upload]] = []
    for version, result in zip(as_submitted, results, strict=True):
        if result.fault is not None or result.content is None:
            version.opening_fault = (result.fault or "not opened")[:300]
            log.warning(
                "tender %s: bid %s version %d did not open: %s",
                tender.reference,
                version.bid.public_id,
                version.number,
                version.opening_fault,
            )
            continue
        kept += [(version, upload) for upload in _record(tender, version, result.content)]
    stored = files.store_many(dbsession, (upload for _version, upload in kept), now)
    dbsession.add_all(
        OpenedBidDocument(
            version_id=version.id, file=stored[upload.sha256], filename=upload.filename
        )
        for version, upload in kept
    )
    dbsession.execute(delete(WaitingShare).where(WaitingShare.tender_id == tender.id))
    state.transition(
        dbsession, tender, state.OPENED, now=now, actor=member, cause="opened by the committee"
    )
    tender.opened_at = now
    dbsession.flush()
    log.info("tender %s opened: %d bids", tender.reference, len(versions))
    go_on_after_opening(dbsession, tender, now)


def go_on_after_opening(dbsession, tender: Tender, now: dt.datetime) -> None:
    """In the opening's own transaction, the tender moves on: to its auction when it declares
    one and at least two bids are valid (an auction of one bidder is no contest), else to
    its evaluation. Nobody has to act on an opened tender."""
    valid = prices.valid_bids(dbsession, tender)
    if tender.auction_enabled and len(valid) >= 2:
        starts = auction.schedule(dbsession, tender, valid, now).starts_at.isoformat()
        state.transition(
            dbsession,
            tender,
            state.AUCTION,
            now=now,
            cause=f"bids opened: auction of {len(valid)} bidders from {starts}",
        )
        return
    cause = "bids opened: evaluation begins"
    if tender.auction_enabled:
        cause = f"bids opened: {len(valid)} valid bid, no auction; evaluation begins"
    state.transition(dbsession, tender, state.EVALUATION, now=now, cause=cause)


def _record(tender: Tender, version: BidVersion, raw: bytes) -> list[files.Upload]:
    """Record on ``version`` what its opened content offers (or why it cannot be taken);
    the documents to keep come back, stored for all bids at once by the caller."""
    try:
        content = bid_content.decode(raw)
    except bid_content.UnreadableContent as error:
        version.opening_fault = f"The opened bid is unreadable: {error}"[:300]
        return []
    version.opened_price_minor = content.price.minor
    version.opened_answers_json = json.dumps(content.answers, sort_keys=True, ensure_ascii=False)
    faults = []
    if content.price.currency != tender.currency:
        faults.append(f"The price is in {content.price.currency}, not {tender.currency}.")
    uploads = []
    for document in content.documents:
        if document.media_type not in files.ACCEPTED:
            faults.append(f"Document {document.filename!r} is of a type not accepted; not kept.")
            continue
        stored_name = files.safe_filename(document.filename, document.media_type)
        uploads.append(files.Upload(stored_name, document.media_type, document.content))
    if faults:
        version.opening_fault = " ".join(faults)[:300]
    return uploads


def opened_answers(version: BidVersion) -> list[tuple[str, str]]:
    """The answers the opening found in ``version``, as (quality criterion's name, answer) in
    the tender's order of its criteria; none if the bid was not opened."""
    if version.opened_answers_json is None:
        return []
    answers = json.loads(version.opened_answers_json)
    return [
        (criterion.name, answers.get(str(criterion.position), ""))
        for criterion in sorted(version.bid.tender.criteria, key=lambda c: c.position)
        if not criterion.is_price
    ]


def issue_protocol(issuer, dbsession, tender: Tender, member, now: dt.datetime) -> OpeningProtocol:
    """The opening protocol, numbered now and rendered once the opening commits."""
    protocol = OpeningProtocol(tender=tender, owner_user_id=member.id, locale=member.locale or "en")
    issuer.issue(dbsession, protocol, now)
    return protocol


def protocol_of(dbsession, tender: Tender) -> OpeningProtocol | None:
    return dbsession.scalar(
        select(OpeningProtocol).where(OpeningProtocol.opened_tender_id == tender.id)
    )
