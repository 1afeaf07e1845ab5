"""Public tenders and sealed bids: what a buyer publishes, what bidders send, what the committee
opens.

A tender's status changes only through :mod:`portal.procurement.state`, and each change is a
:class:`TenderTransition`. A bid's content (price, answers, documents) exists in clear only in
its draft, which the organisation's representatives alone can see; submitting seals it into a
:class:`BidVersion` and empties the draft, so between submission and opening nothing in the
database says what a bid offers. The committee's private keys and the tender's key shares are
stored only encrypted (see :mod:`portal.procurement.committee_keys` and
:mod:`portal.procurement.sealing`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.billing.models import Bill, Deposit, new_public_id
from portal.db import Base
from portal.documents.models import Document
from portal.identity.models import Department, Organisation, User
from portal.money import Money

#: the longest reason a person gives for a decision on a tender (an amendment, a qualification,
#: an award's withdrawal, a complaint's decision, a refusal to sign): published with it
MAX_REASON = 2000

LOWEST_PRICE = "lowest_price"
BEST_VALUE = "best_value"


class CommitteeKey(Base):
    """A clerk's personal committee key: the public half in clear, the private half only
    encrypted under a passphrase that only the clerk knows (Argon2id)."""

    __tablename__ = "committee_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]

    user: Mapped[User] = relationship()


class StoredFile(Base):
    """A file's bytes, stored once however often it is attached (keyed by its SHA-256); its
    media type was read from its content, never from its name. The bytes are in ``content``
    or, named by ``storage_key``, in the documents' store (:mod:`portal.documents.storage`)."""

    __tablename__ = "stored_file"
    __table_args__ = (
        CheckConstraint("content IS NOT NULL OR storage_key IS NOT NULL", name="bytes_kept"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class Tender(Base):
    """A department's call for bids. Times are aware UTC; pages enter and show them in the
    portal's timezone. Money is minor units in ``currency``."""

    __tablename__ = "tender"
    __table_args__ = (Index("ix_tender_listing", "status", "bids_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: T-2027-000012: its number in the "T" series of the year it was created
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="draft")
    #: 1 when published, +1 per amendment
    version: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    estimated_value_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bid_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    award_criterion: Mapped[str] = mapped_column(String(20), default=LOWEST_PRICE)
    questions_until: Mapped[dt.datetime | None]
    #: the deadline: a bid is accepted only strictly before it, by the server's clock
    bids_until: Mapped[dt.datetime | None]
    opening_at: Mapped[dt.datetime | None]
    committee_threshold: Mapped[int] = mapped_column(default=2)
    #: a reverse e-auction follows the opening when at least two bids are valid
    auction_enabled: Mapped[bool] = mapped_column(default=False)
    #: the auction's minimum step: an amount (minor units) or a share of the bidder's last
    #: price in basis points (50 = 0.5 %); exactly one is set when the auction is enabled
    auction_step_minor: Mapped[int | None] = mapped_column(BigInteger)
    auction_step_basis_points: Mapped[int | None]
    #: the tender's X25519 public key, made at publication; its private half is never stored
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    published_at: Mapped[dt.datetime | None]
    opened_at: Mapped[dt.datetime | None]

    department: Mapped[Department] = relationship()
    created_by: Mapped[User] = relationship()
    items: Mapped[list[TenderItem]] = relationship(
        back_populates="tender", order_by="TenderItem.position", cascade="all, delete-orphan"
    )
    criteria: Mapped[list[TenderCriterion]] = relationship(
        back_populates="tender", order_by="TenderCriterion.position", cascade="all, delete-orphan"
    )
    committee: Mapped[list[CommitteeSeat]] = relationship(
        back_populates="tender", order_by="CommitteeSeat.id", cascade="all, delete-orphan"
    )
    documents: Mapped[list[TenderDocument]] = relationship(
        back_populates="tender", order_by="TenderDocument.id", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[TenderTransition]] = relationship(
        back_populates="tender", order_by="TenderTransition.id", cascade="all, delete-orphan"
    )
    versions: Mapped[list[TenderVersion]] = relationship(
        back_populates="tender", order_by="TenderVersion.number", cascade="all, delete-orphan"
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="tender", order_by="Question.id", cascade="all, delete-orphan"
    )
    bids: Mapped[list[Bid]] = relationship(back_populates="tender", order_by="Bid.id")
    auction: Mapped[Auction | None] = relationship(back_populates="tender")
    awards: Mapped[list[Award]] = relationship(back_populates="tender", order_by="Award.id")
    decisions: Mapped[list[QualificationDecision]] = relationship(
        back_populates="tender", order_by="QualificationDecision.id"
    )
    complaints: Mapped[list[Complaint]] = relationship(
        back_populates="tender", order_by="Complaint.id"
    )
    contract: Mapped[Contract | None] = relationship(back_populates="tender")

    @property
    def estimated_value(self) -> Money:
        return Money(self.estimated_value_minor, self.currency)

    @property
    def bid_fee(self) -> Money:
        return Money(self.bid_fee_minor, self.currency)

    @property
    def deposit(self) -> Money:
        return Money(self.deposit_minor, self.currency)


class TenderItem(Base):
    """What is bought: a line with its CPV code (Common Procurement Vocabulary)."""

    __tablename__ = "tender_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(500))
    #: e.g. 45233140-2 (eight digits and a check digit)
    cpv_code: Mapped[str] = mapped_column(String(10), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(40))

    tender: Mapped[Tender] = relationship(back_populates="items")


class TenderCriterion(Base):
    """A named quality criterion of a best price-quality tender; with the price's weight the
    weights sum to 100."""

    __tablename__ = "tender_criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    #: the price's own weight is the row with ``is_price`` set
    is_price: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int]

    tender: Mapped[Tender] = relationship(back_populates="criteria")


class CommitteeSeat(Base):
    """A clerk named on a tender's opening committee, with their share of the tender's key
    encrypted to their committee key (set at publication)."""

    __tablename__ = "committee_seat"
    __table_args__ = (UniqueConstraint("tender_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    encrypted_share: Mapped[bytes | None] = mapped_column(LargeBinary)

    tender: Mapped[Tender] = relationship(back_populates="committee")
    member: Mapped[User] = relationship()


class TenderDocument(Base):
    """A document the buyer published with a tender (terms, drawings, forms)."""

    __tablename__ = "tender_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))
    #: the tender version that added it; a removed document keeps its row for the history
    added_in_version: Mapped[int] = mapped_column(default=0)
    removed_in_version: Mapped[int | None]
    added_at: Mapped[dt.datetime]

    tender: Mapped[Tender] = relationship(back_populates="documents")
    file: Mapped[StoredFile] = relationship()


class TenderTransition(Base):
    """One change of a tender's status: when, by whom (None for the clock), and why."""

    __tablename__ = "tender_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    at: Mapped[dt.datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cause: Mapped[str] = mapped_column(Text, default="")

    tender: Mapped[Tender] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()


class TenderVersion(Base):
    """A published version of a tender: publication is version 1, each amendment the next.
    ``changes`` is JSON: a list of {field, before, after} the public page shows."""

    __tablename__ = "tender_version"
    __table_args__ = (UniqueConstraint("tender_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"))
    number: Mapped[int]
    at: Mapped[dt.datetime]
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    changes_json: Mapped[str] = mapped_column(Text, default="[]")
    #: the published fields as this version left them (JSON, see
    #: :mod:`portal.procurement.ocds.snapshots`); None for versions recorded before it was kept
    snapshot_json: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="versions")
    actor: Mapped[User] = relationship()


class Question(Base):
    """A bidder's question and the buyer's answer, published without who asked."""

    __tablename__ = "tender_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"), index=True)
    #: kept so the asker can find their question; never shown to anyone else
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    tender: Mapped[Tender] = relationship(back_populates="questions")


class Bid(Base):
    """An organisation's bid on a tender: one per organisation and tender.

    ``status``: draft (never submitted), submitted (its current version is sealed), withdrawn.
    The draft's content (``draft_sealed`` and :class:`BidDraftDocument`) is what the bidder is
    preparing, encrypted under the portal's personal-data key (:mod:`portal.procurement.bids`);
    submitting seals it into a new :class:`BidVersion` and empties it.
    """

    __tablename__ = "bid"
    __table_args__ = (UniqueConstraint("tender_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    #: the draft's price and answers, encrypted (None when empty, and once sealed)
    draft_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    fee_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), unique=True)
    deposit_id: Mapped[int | None] = mapped_column(ForeignKey("deposit.id"), unique=True)
    #: set by an amendment after submission: the bidder must confirm or change the bid
    needs_confirmation: Mapped[bool] = mapped_column(default=False)
    withdrawn_at: Mapped[dt.datetime | None]

    tender: Mapped[Tender] = relationship(back_populates="bids")
    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User] = relationship()
    fee_bill: Mapped[Bill | None] = relationship()
    deposit: Mapped[Deposit | None] = relationship()
    draft_documents: Mapped[list[BidDraftDocument]] = relationship(
        back_populates="bid", order_by="BidDraftDocument.id", cascade="all, delete-orphan"
    )
    versions: Mapped[list[BidVersion]] = relationship(
        back_populates="bid", order_by="BidVersion.number", cascade="all, delete-orphan"
    )


class BidDraftDocument(Base):
    """A document attached to a bid's draft. Its name and bytes are kept here encrypted, not in
    :class:`StoredFile`, so that sealing can delete them: a bid's documents are never stored in
    clear. No hash of the clear bytes is kept: a short document (a price sheet) could be found
    from its hash by trying prices."""

    __tablename__ = "bid_draft_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id", ondelete="CASCADE"), index=True)
    #: the file's name, encrypted (a name like "offer 182400.pdf" tells the price)
    filename_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    media_type: Mapped[str] = mapped_column(String(100))
    #: the file's bytes, encrypted
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[dt.datetime]

    bid: Mapped[Bid] = relationship(back_populates="draft_documents")


class BidVersion(Base):
    """One submission of a bid, sealed: readable by nobody until the opening.

    ``status``: submitted (the bid's current version), replaced (a later version superseded
    it), withdrawn. ``sha256`` is of ``sealed`` and is printed on the submission receipt; the
    opening checks it, and ``seal_mac`` that it is the hash recorded at the submission. The
    ``opened_*`` columns are filled at the opening.
    """

    __tablename__ = "bid_version"
    __table_args__ = (UniqueConstraint("bid_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    #: HMAC-SHA256, under a server secret not in the database, of the tender's reference, the
    #: bid's public id, ``number`` and ``sha256``: whoever can write the database cannot seal
    #: new content in place of this (see :mod:`portal.procurement.seal_macs`)
    seal_mac: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime]
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the tender version the bidder submitted or last confirmed this bid against
    tender_version: Mapped[int]
    confirmed_at: Mapped[dt.datetime | None]
    opened_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    opened_answers_json: Mapped[str | None] = mapped_column(Text)
    #: why the sealed bid did not open as sealed (a hash mismatch, a failed tag); None if it did
    opening_fault: Mapped[str | None] = mapped_column(String(300))

    bid: Mapped[Bid] = relationship(back_populates="versions")
    submitted_by: Mapped[User] = relationship()
    opened_documents: Mapped[list[OpenedBidDocument]] = relationship(
        back_populates="version", order_by="OpenedBidDocument.id", cascade="all, delete-orphan"
    )


class OpenedBidDocument(Base):
    """A bid's document, decrypted at the opening."""

    __tablename__ = "opened_bid_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("bid_version.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(255))

    version: Mapped[BidVersion] = relationship(back_populates="opened_documents")
    file: Mapped[StoredFile] = relationship()


class WaitingShare(Base):
    """A committee member's share, unlocked and waiting for the others (see the README's
    security notes). It is encrypted under the server's personal-data key, so the database
    alone shows nothing; at most m − 1 ever wait, since the m-th opens the bids in the same
    transaction, which deletes them all."""

    __tablename__ = "waiting_share"
    __table_args__ = (UniqueConstraint("tender_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    unlocked_at: Mapped[dt.datetime]


#: :class:`Auction` statuses
AUCTION_SCHEDULED = "scheduled"
AUCTION_FINISHED = "finished"
#: the tender was cancelled before the auction finished
AUCTION_CANCELLED = "cancelled"


class Auction(Base):
    """A tender's reverse e-auction: three rounds from ``starts_at``; in each round the bidders
    are called from the highest current price to the lowest, one slot of ``slot_seconds``
    each. ``status``: scheduled, finished (final prices known), cancelled (the tender was)."""

    __tablename__ = "tender_auction"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=AUCTION_SCHEDULED)
    rounds: Mapped[int] = mapped_column(default=3)
    starts_at: Mapped[dt.datetime]
    slot_seconds: Mapped[int]
    #: when the last slot of the last round closes
    ends_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]

    tender: Mapped[Tender] = relationship(back_populates="auction")
    bidders: Mapped[list[AuctionBidder]] = relationship(
        back_populates="auction", order_by="AuctionBidder.label", cascade="all, delete-orphan"
    )
    steps: Mapped[list[AuctionStep]] = relationship(
        back_populates="auction", order_by="AuctionStep.id", cascade="all, delete-orphan"
    )


class AuctionBidder(Base):
    """A valid bid taking part in the auction, known to the other bidders only by ``label``
    ("A", "B", ...). ``price_minor`` is its current price: the opened price, then its last
    accepted step; once the auction has finished, its final price."""

    __tablename__ = "tender_auction_bidder"
    __table_args__ = (UniqueConstraint("auction_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("tender_auction.id", ondelete="CASCADE"))
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), unique=True)
    label: Mapped[str] = mapped_column(String(4))
    initial_price_minor: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger)

    auction: Mapped[Auction] = relationship(back_populates="bidders")
    bid: Mapped[Bid] = relationship()


class AuctionStep(Base):
    """A bidder's move in one round, stamped by the server: a lower price, or ``kept`` (the
    bidder kept their price, or let their slot pass)."""

    __tablename__ = "tender_auction_step"
    __table_args__ = (UniqueConstraint("bidder_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(
        ForeignKey("tender_auction.id", ondelete="CASCADE"), index=True
    )
    bidder_id: Mapped[int] = mapped_column(ForeignKey("tender_auction_bidder.id"))
    round: Mapped[int]
    price_minor: Mapped[int] = mapped_column(BigInteger)
    kept: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime]
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    auction: Mapped[Auction] = relationship(back_populates="steps")
    bidder: Mapped[AuctionBidder] = relationship()


class QualityScore(Base):
    """The committee's score of one bid on one quality criterion of a best price-quality
    tender: from 0 to the criterion's weight."""

    __tablename__ = "tender_quality_score"
    __table_args__ = (UniqueConstraint("bid_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("tender_criterion.id", ondelete="CASCADE"))
    points: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    scored_at: Mapped[dt.datetime]
    scored_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    bid: Mapped[Bid] = relationship()
    criterion: Mapped[TenderCriterion] = relationship()


#: :class:`QualificationDecision` outcomes
QUALIFIED = "qualified"
DISQUALIFIED = "disqualified"
REFUSED_TO_SIGN = "refused_to_sign"


class QualificationDecision(Base):
    """The buyer's decision on a bid's qualification, with the written reason; published.
    An upheld complaint annuls the decisions it overturns (``annulled_at``), kept for the
    record."""

    __tablename__ = "tender_qualification"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime]
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    annulled_at: Mapped[dt.datetime | None]
    annulled_reason: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="decisions")
    bid: Mapped[Bid] = relationship()
    decided_by: Mapped[User] = relationship()


#: :class:`Award` statuses (OCDS's award status codelist: active, cancelled)
AWARD_ACTIVE = "active"
AWARD_CANCELLED = "cancelled"


class Award(Base):
    """The award of a tender to a bid, published with its reasons; the standstill runs until
    ``standstill_until``. Cancelled by an upheld complaint or the winner's refusal to sign."""

    __tablename__ = "tender_award"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=AWARD_ACTIVE)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reasons: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime]
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    standstill_until: Mapped[dt.datetime]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="awards")
    bid: Mapped[Bid] = relationship()
    decided_by: Mapped[User] = relationship()

    @property
    def value(self) -> Money:
        return Money(self.value_minor, self.currency)


#: :class:`Complaint` statuses
COMPLAINT_AWAITING_PAYMENT = "awaiting_payment"
COMPLAINT_REGISTERED = "registered"
COMPLAINT_UPHELD = "upheld"
COMPLAINT_REJECTED = "rejected"
#: filed but its fee not paid by the end of the standstill
COMPLAINT_LAPSED = "lapsed"
#: complaints that hold the standstill open: the contract waits for them
OPEN_COMPLAINTS = frozenset({COMPLAINT_AWAITING_PAYMENT, COMPLAINT_REGISTERED})


class Complaint(Base):
    """A bidder's complaint against an award, filed during its standstill. It is registered
    (and goes to a reviewer) once its fee, billed to the organisation, is paid."""

    __tablename__ = "tender_complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("tender_award.id"), index=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bid.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default=COMPLAINT_AWAITING_PAYMENT)
    text: Mapped[str] = mapped_column(Text)
    fee_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), unique=True)
    filed_at: Mapped[dt.datetime]
    registered_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="complaints")
    award: Mapped[Award] = relationship()
    bid: Mapped[Bid] = relationship()
    organisation: Mapped[Organisation] = relationship()
    filed_by: Mapped[User] = relationship(foreign_keys=[filed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    fee_bill: Mapped[Bill | None] = relationship()
    documents: Mapped[list[ComplaintDocument]] = relationship(
        back_populates="complaint", order_by="ComplaintDocument.id", cascade="all, delete-orphan"
    )


class ComplaintDocument(Base):
    """A document filed with a complaint."""

    __tablename__ = "tender_complaint_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("tender_complaint.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(255))

    complaint: Mapped[Complaint] = relationship(back_populates="documents")
    file: Mapped[StoredFile] = relationship()


class Contract(Base):
    """The signed contract the buyer recorded after the standstill: the tender is complete."""

    __tablename__ = "tender_contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), unique=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("tender_award.id"), unique=True)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    signed_on: Mapped[dt.date]
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    tender: Mapped[Tender] = relationship(back_populates="contract")
    award: Mapped[Award] = relationship()
    file: Mapped[StoredFile] = relationship()

    @property
    def value(self) -> Money:
        return Money(self.value_minor, self.currency)


class BidReceipt(Document):
    """The bidder's signed proof of submission: tender, organisation, time, the sealed hash."""

    __mapper_args__ = {"polymorphic_identity": "bid_receipt"}

    bid_version_id: Mapped[int | None] = mapped_column(ForeignKey("bid_version.id"), unique=True)
    bid_version: Mapped[BidVersion | None] = relationship()


class OpeningProtocol(Document):
    """The signed record of an opening: bidders, prices, times, hashes, committee."""

    __mapper_args__ = {"polymorphic_identity": "opening_protocol"}

    opened_tender_id: Mapped[int | None] = mapped_column(ForeignKey("tender.id"), unique=True)
    tender: Mapped[Tender | None] = relationship(foreign_keys=[opened_tender_id])


class AuctionProtocol(Document):
    """The signed record of an auction: each round's steps with their times, the final prices."""

    __mapper_args__ = {"polymorphic_identity": "auction_protocol"}

    auction_tender_id: Mapped[int | None] = mapped_column(ForeignKey("tender.id"), unique=True)
    auction_tender: Mapped[Tender | None] = relationship(foreign_keys=[auction_tender_id])
