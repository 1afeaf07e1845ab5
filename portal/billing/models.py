"""Billing records: bills, the double-entry ledger, payments, refunds and provider events.

Money columns are integer minor units beside an ISO 4217 currency code. The ledger is
append-only: corrections are reversing transactions (see :mod:`portal.billing.ledger`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalogue.models import Service
from portal.db import Base, utcnow
from portal.identity.models import Department, Organisation, User
from portal.localized import translations_column
from portal.money import Money


def new_public_id() -> str:
    return uuid.uuid4().hex


class Bill(Base):
    """What a payer (a person or an organisation) owes a service. Its status is derived from
    the ledger (:func:`portal.billing.ledger.bill_balances`), never stored."""

    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint("service_id", "number"),
        CheckConstraint(
            "(payer_user_id IS NULL) <> (payer_organisation_id IS NULL)", name="one_payer"
        ),
        Index("ix_bill_payer_user_listing", "payer_user_id", "due_date", "id"),
        Index("ix_bill_payer_organisation_listing", "payer_organisation_id", "due_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    number: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(25), unique=True)
    payer_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    payer_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    description: Mapped[str] = mapped_column(String(300))
    #: the description in other languages (:mod:`portal.localized`)
    description_translations: Mapped[dict[str, str]] = translations_column()
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[dt.date] = mapped_column(Date)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    #: what was still owed was written off (see :mod:`portal.billing.writeoffs`)
    written_off_at: Mapped[dt.datetime | None]
    write_off_reason: Mapped[str | None] = mapped_column(String(300))

    service: Mapped[Service] = relationship()
    payer_user: Mapped[User | None] = relationship()
    payer_organisation: Mapped[Organisation | None] = relationship()
    lines: Mapped[list[BillLine]] = relationship(
        back_populates="bill", order_by="BillLine.position", cascade="all, delete-orphan"
    )

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)


class BillLine(Base):
    __tablename__ = "bill_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(300))
    description_translations: Mapped[dict[str, str]] = translations_column()
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    bill: Mapped[Bill] = relationship(back_populates="lines")


class LedgerAccount(Base):
    """An account of the ledger: a payer's receivable, a service's revenue, a provider's
    clearing account... Its balance is the sum of its entries."""

    __tablename__ = "ledger_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)


class JournalTransaction(Base):
    """One money movement; its entries sum to zero per currency. ``idempotency`` names the
    business event it records, so the same event can never be posted twice."""

    __tablename__ = "journal_transaction"
    #: the reports sum a period's transactions of one kind (settled payments, refunds)
    __table_args__ = (Index("ix_journal_transaction_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency: Mapped[str] = mapped_column(String(160), unique=True)
    description: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_transaction.id"))

    entries: Mapped[list[JournalEntry]] = relationship(back_populates="transaction")


class JournalEntry(Base):
    """A debit (positive) or credit (negative) on one account, optionally about one bill."""

    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("journal_transaction.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"), index=True)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    transaction: Mapped[JournalTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()


class Payment(Base):
    """A payer's payment of one or several bills through the payment provider.

    The row exists before the provider is called; our ``public_id`` is the reference the
    provider keeps, so a retried call cannot create a second charge. A person pays (for
    themself or for an organisation they represent); only a bank transfer to an
    organisation's bills has no person, the organisation itself paid.
    """

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint(
            "payer_user_id IS NOT NULL OR payer_organisation_id IS NOT NULL", name="has_payer"
        ),
        Index("ix_payment_status_created", "status", "created_at"),
        # the newest payments first (clerks' lists, the API), read backwards from the index
        # rather than by sorting every payment (bench/town.py: 1.2 s at a town's year)
        Index("ix_payment_created", "created_at", "id"),
        # the few a clerk must look at, without scanning them all
        Index(
            "ix_payment_needs_attention",
            "created_at",
            postgresql_where=text("needs_attention IS NOT NULL"),
            sqlite_where=text("needs_attention IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    payer_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    payer_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), index=True)
    hosted_url: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(20), default="created")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    method: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    needs_attention: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    settled_at: Mapped[dt.datetime | None]
    #: optimistic lock: two transactions changing one payment cannot both commit (SQLite has
    #: no row locks; on PostgreSQL it backs up the FOR NO KEY UPDATE locks)
    version: Mapped[int] = mapped_column(server_default="1")

    __mapper_args__ = {"version_id_col": version}

    payer_user: Mapped[User | None] = relationship()
    payer_organisation: Mapped[Organisation | None] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.bill_id", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[PaymentTransition]] = relationship(
        back_populates="payment", order_by="PaymentTransition.id", cascade="all, delete-orphan"
    )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def refundable(self) -> Money:
        return Money(self.amount_minor - self.refunded_minor, self.currency)

    @property
    def payer_name(self) -> str:
        """Who paid, as pages name them: the person, else the organisation."""
        if self.payer_user is not None:
            return self.payer_user.display_name
        return self.payer_organisation.name if self.payer_organisation is not None else ""


class PaymentAllocation(Base):
    """How much of a payment goes to which bill."""

    __tablename__ = "payment_allocation"

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), primary_key=True
    )
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), primary_key=True, index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    bill: Mapped[Bill] = relationship()


class PaymentTransition(Base):
    """Every change of a payment's state, with when and why."""

    __tablename__ = "payment_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]

    payment: Mapped[Payment] = relationship(back_populates="transitions")


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a payer used, with a fingerprint of the request it came with."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(index=True)


class ProviderEventRecord(Base):
    """A provider notification already processed: the unique key makes processing
    exactly-once, whatever the provider repeats."""

    __tablename__ = "provider_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Refund(Base):
    """Money given back on a payment, asked for by a clerk with a reason: one call to the
    provider and one credit note, whose :class:`RefundLine` rows say which bills it gives
    money back on. ``amount_minor`` is the sum of its lines.

    A payment that came by bank transfer is refunded by a transfer back: to
    ``creditor_iban`` (the account the money came from, or the one a clerk put instead,
    ``account_reason`` saying why), in a credit-transfer file (:class:`RefundTransferFile`)
    the clerks give the bank; see :mod:`portal.billing.bank_refunds`."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    provider_refund_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(server_default="1")
    #: a bank refund's payee: account and name
    creditor_iban: Mapped[str | None] = mapped_column(String(34))
    creditor_name: Mapped[str | None] = mapped_column(String(140))
    #: why a clerk sent it to another account than the money came from
    account_reason: Mapped[str | None] = mapped_column(Text)
    transfer_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("refund_transfer_file.id"), index=True
    )

    __mapper_args__ = {"version_id_col": version}

    payment: Mapped[Payment] = relationship()
    transfer_file: Mapped[RefundTransferFile | None] = relationship(back_populates="refunds")
    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="refund", order_by="RefundLine.bill_id", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[RefundTransition]] = relationship(
        back_populates="refund", order_by="RefundTransition.id", cascade="all, delete-orphan"
    )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class RefundTransferFile(Base):
    """An ISO 20022 pain.001 credit-transfer file of bank refunds, made once by a clerk of
    the department and kept as made: each download is the same bytes, which the bank
    refuses a second time by their message id."""

    __tablename__ = "refund_transfer_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    transfers: Mapped[int]
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    refunds: Mapped[list[Refund]] = relationship(
        back_populates="transfer_file", order_by="Refund.id"
    )
    created_by: Mapped[User] = relationship()

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)


class RefundLine(Base):
    """How much of a refund goes back on one bill of its payment: the bill the clerk chose,
    which the payer owes that much again once the refund is posted."""

    __tablename__ = "refund_line"
    __table_args__ = (
        UniqueConstraint("refund_id", "bill_id"),
        CheckConstraint("amount_minor > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refund.id", ondelete="CASCADE"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    bill: Mapped[Bill] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.refund.currency)


class RefundTransition(Base):
    """Every change of a refund's state, with when and why. The provider's answer makes each
    one; who asked for the refund is on the refund (``requested_by_id``)."""

    __tablename__ = "refund_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refund.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]

    refund: Mapped[Refund] = relationship(back_populates="transitions")


class Deposit(Base):
    """Money a payer lodges that the authority holds for them (a liability) until it is
    released (given back through the provider) or forfeited (it becomes revenue).

    It is lodged by paying its bill, whose issue is posted to the service's deposits account
    rather than to revenue; see :mod:`portal.billing.deposits`.
    """

    __tablename__ = "deposit"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="held")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(300))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id"))

    bill: Mapped[Bill] = relationship()
    refund: Mapped[Refund | None] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class ApprovalRequest(Base):
    """A clerk's request for a second clerk's approval of a money decision above the
    department's threshold (a refund, a write-off, a paid application's cancellation): who
    asked, what, why, and who decided. See :mod:`portal.billing.approvals`.

    ``subject`` is the public id of what it is about (a refund, a bill, an application), read
    with ``kind``. The database itself refuses a decision by the person who asked; the one
    who asked may only withdraw it (``withdrawn``, ended at ``decided_at``, decided by nobody).
    """

    __tablename__ = "approval_request"
    __table_args__ = (
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="four_eyes"
        ),
        CheckConstraint(
            "(status = 'awaiting' AND decided_by_id IS NULL AND decided_at IS NULL)"
            " OR (status IN ('approved', 'rejected')"
            " AND decided_by_id IS NOT NULL AND decided_at IS NOT NULL)"
            " OR (status = 'withdrawn' AND decided_by_id IS NULL AND decided_at IS NOT NULL)",
            name="decided_by_someone",
        ),
        CheckConstraint("amount_minor > 0", name="positive"),
        # one open request per thing: a second would ask to give the same money away twice
        Index(
            "ix_approval_request_one_awaiting",
            "kind",
            "subject",
            unique=True,
            postgresql_where=text("status = 'awaiting'"),
            sqlite_where=text("status = 'awaiting'"),
        ),
        Index("ix_approval_request_department", "department_id", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    subject: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300))
    description_translations: Mapped[dict[str, str]] = translations_column()
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(20), default="awaiting")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class BankStatement(Base):
    """One imported camt.053 statement or camt.054 notification of the authority's account.
    A statement is imported once: the bank's statement id is unique per account and kind (a
    bank numbers its camt.054 notifications apart from its camt.053 statements, so the same id
    may be both)."""

    __tablename__ = "bank_statement"
    __table_args__ = (UniqueConstraint("account_iban", "kind", "statement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    statement_id: Mapped[str] = mapped_column(String(35))
    account_iban: Mapped[str] = mapped_column(String(34))
    imported_at: Mapped[dt.datetime]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    credits: Mapped[int]
    #: credits not already seen in an earlier file (a camt.054 before its camt.053)
    new_credits: Mapped[int]

    department: Mapped[Department] = relationship()


class BankLine(Base):
    """A credit to the authority's account, posted once whichever files report it: by the
    bank's reference (``dedupe_key``) when the file gives one, else by what the credit says
    and its number among the same in its file (``content_key``); see
    :meth:`portal.billing.camt.CreditLine.bank_key` and
    :meth:`~portal.billing.camt.CreditLine.content_key`, and :mod:`portal.billing.statements`.

    ``status``: ``matched`` (posted to its bills), ``unmatched`` (waiting for a clerk in the
    work queue), ``assigned`` (a clerk chose its bills), ``returned`` (a clerk sent it back
    to the payer's bank; nothing is posted)."""

    __tablename__ = "bank_line"
    __table_args__ = (
        Index("ix_bank_line_department_booked", "department_id", "booked_on"),
        # a credit without the bank's reference is known by its content alone: two imports of
        # it at once cannot both record it
        Index(
            "ix_bank_line_content_unreferenced",
            "content_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NULL"),
            sqlite_where=text("dedupe_key IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    #: by the bank's reference (AcctSvcrRef); NULL when the bank gave none
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    content_key: Mapped[str] = mapped_column(String(64), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[dt.date] = mapped_column(Date)
    servicer_reference: Mapped[str] = mapped_column(String(35))
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    creditor_reference: Mapped[str] = mapped_column(String(35))
    remittance: Mapped[str] = mapped_column(String(140))
    debtor_name: Mapped[str] = mapped_column(String(140))
    #: the account the money came from, where a refund of it goes ("" if the bank left it out)
    debtor_iban: Mapped[str] = mapped_column(String(34), default="")
    status: Mapped[str] = mapped_column(String(16), default="unmatched")
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    statement: Mapped[BankStatement] = relationship()
    matches: Mapped[list[BankLineMatch]] = relationship(
        back_populates="line", order_by="BankLineMatch.bill_id", cascade="all, delete-orphan"
    )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


class BankLineMatch(Base):
    """How much of a bank line was posted to which bill (the rest, if any, is the payer's
    credit on that bill: the bill shows as overpaid, refundable by a clerk)."""

    __tablename__ = "bank_line_match"

    line_id: Mapped[int] = mapped_column(
        ForeignKey("bank_line.id", ondelete="CASCADE"), primary_key=True
    )
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), primary_key=True, index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))

    line: Mapped[BankLine] = relationship(back_populates="matches")
    bill: Mapped[Bill] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.line.currency)
