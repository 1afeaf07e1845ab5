"""Paying bills: creating payments idempotently, starting them at the provider, and applying
what the provider says (a verified notification or its answer to a status query).

The payer's browser coming back from the provider proves nothing and changes nothing here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, bindparam, func, insert, literal, or_, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, contains_eager, make_transient_to_detached, object_session

from portal.billing import events, ledger, matching, state
from portal.billing.bills import BillView, status_of, with_status
from portal.billing.ledger import AlreadyPosted, Line
from portal.billing.models import (
    Bill,
    IdempotencyKey,
    Payment,
    PaymentAllocation,
    Refund,
    RefundLine,
    new_public_id,
)
from portal.billing.providers import PaymentLine, ProviderRefused
from portal.billing.transfer import compact_iban, is_valid_iban
from portal.clock import clock
from portal.db import (
    Prebuilt,
    insert_unless_present,
    one_of,
    registry_of,
    run_write,
    table_of,
)
from portal.i18n import _
from portal.money import Money
from portal.refusals import CONFLICT, INVALID, NOT_FOUND, Refusal

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
MAX_BILLS_PER_PAYMENT = 50


def flag_for_clerk(dbsession: Session, payment: Payment, reason: str) -> None:
    """Mark ``payment`` as needing a clerk (``reason``: what is odd, no personal data) and say
    so, so that the back office's work queue gets a case about it."""
    payment.needs_attention = reason[:200]
    events.announce(events.PaymentNeedsAttention(payment, dbsession))


def fingerprint(payer_key: str, bill_ids: list[int]) -> str:
    canonical = json.dumps({"payer": payer_key, "bills": sorted(set(bill_ids))})
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_rows(query):
    """Row locks on PostgreSQL (SQLite serialises writers anyway), read afresh once granted.

    ``FOR NO KEY UPDATE`` does not wait for the key-share locks that inserting rows which
    refer to the locked one take (provider events, transitions, ledger entries), so two
    requests each holding such a lock cannot deadlock here.
    """
    return query.with_for_update(key_share=True).execution_options(populate_existing=True)


def create_payment(
    dbsession: Session,
    *,
    user,
    bill_ids: list[int],
    idempotency_key: str,
    provider: str,
    timeout: dt.timedelta,
    now: dt.datetime,
    organisation=None,
    locked: bool = False,
) -> Payment:
    """A payment of ``bill_ids`` by ``user`` (acting for ``organisation`` if given).

    The same key with the same request returns the same payment; with another request it is
    refused (409). Bills are locked while checked, so two tabs paying one bill at the same
    time cannot both get a payment in progress (``locked``: the caller locked and read
    them afresh already, in this transaction).
    """
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise Refusal(INVALID, _("The Idempotency-Key must be 16 to 128 letters, digits, - or _."))
    bill_ids = sorted({int(bill_id) for bill_id in bill_ids})
    if not bill_ids:
        raise Refusal(INVALID, _("Choose at least one bill to pay."))
    if len(bill_ids) > MAX_BILLS_PER_PAYMENT:
        raise Refusal(
            INVALID,
            _(
                "At most ${count} bills can be paid at once.",
                mapping={"count": MAX_BILLS_PER_PAYMENT},
            ),
        )
    payer_key = f"organisation:{organisation.id}" if organisation else f"user:{user.id}"
    print_ = fingerprint(payer_key, bill_ids)
    # Locked first, then read: a repeated request finds its payment, and one sent twice at
    # once waits here for its twin and then finds the twin's payment.
    if locked:
        bills = [dbsession.get_one(Bill, bill_id) for bill_id in bill_ids]
    else:
        bills = list(dbsession.scalars(_LOCK_BILLS(dbsession), {"bill_ids": bill_ids}))
    if len(bills) != len(bill_ids):
        raise Refusal(NOT_FOUND, _("One of these bills does not exist."))
    standing = _standing(dbsession, user.id, idempotency_key, bill_ids)
    if standing.key is not None:
        return _known_payment(dbsession, standing.key, print_)
    for bill in bills:
        owner = bill.payer_organisation_id if organisation else bill.payer_user_id
        if owner != (organisation.id if organisation else user.id):
            raise Refusal(NOT_FOUND, _("One of these bills does not exist."))
    views = [
        BillView(bill, Money(standing.owed[bill.id], bill.currency), status_of(bill, owed))
        for bill in bills
        for owed in [standing.owed[bill.id]]
    ]
    unpayable = [view for view in views if not view.payable]
    if unpayable:
        raise Refusal(
            CONFLICT,
            _(
                "Bill ${number} has nothing left to pay.",
                mapping={"number": unpayable[0].bill.number},
            ),
        )
    if len({bill.currency for bill in bills}) != 1:
        raise Refusal(INVALID, _("Bills in different currencies must be paid separately."))
    if standing.busy is not None:
        raise Refusal(
            CONFLICT,
            _("A payment of this bill is already in progress."),
            about=dbsession.get(Payment, standing.busy),
        )

    total = sum((view.outstanding for view in views[1:]), views[0].outstanding)
    payment, recorded = _insert_payment(
        dbsession,
        {
            "payer_user_id": user.id,
            "payer_organisation_id": organisation.id if organisation else None,
            "provider": provider,
            "amount_minor": total.minor,
            "currency": total.currency,
            "created_at": now,
            "expires_at": now + timeout,
        },
        {view.bill.id: view.outstanding.minor for view in views},
        {"user_id": user.id, "key": idempotency_key, "fingerprint": print_, "created_at": now},
    )
    if not recorded:  # the same key, for other bills, committed meanwhile
        known = _known_key(dbsession, user.id, idempotency_key, print_)
        if known is None:
            raise RuntimeError(f"Idempotency-Key of user {user.id} neither recorded nor found")
        dbsession.delete(payment)
        dbsession.flush()
        return known
    log.info("payment %s created for %d bills", payment.public_id, len(bills))
    return payment


def _insert_payment(
    dbsession: Session, values: dict, allocations: dict[int, int], key: dict
) -> tuple[Payment, bool]:
    """A new payment and its allocations (bill id: minor units), written with plain INSERTs
    and added to ``dbsession`` as loaded objects without reading them back (a new row has
    nothing for the unit of work to compare, and the flush would cost as much as the rest of
    creating the payment), and its Idempotency-Key (``key``: user_id, key, fingerprint,
    created_at) recorded; False with it if that key was recorded meanwhile.

    One statement on PostgreSQL (:func:`_build_paying`); three on SQLite, which has no
    INSERT inside WITH."""
    row = {
        **values,
        "public_id": new_public_id(),
        "provider_payment_id": None,
        "hosted_url": None,
        "status": state.CREATED,
        "refunded_minor": 0,
        "method": None,
        "failure_reason": None,
        "needs_attention": None,
        "settled_at": None,
        "version": 1,
    }
    shares = [
        {"bill_id": bill_id, "amount_minor": minor, "refunded_minor": 0}
        for bill_id, minor in allocations.items()
    ]
    if dbsession.get_bind().dialect.name == "postgresql":
        params = {
            **row,
            **{f"key_{name}": value for name, value in key.items()},
            "bill_ids": list(allocations),
            "amounts": list(allocations.values()),
        }
        payment_id, key_id = run_write(dbsession, _PAYING(dbsession), params).one()
    else:
        payment_id = run_write(dbsession, _INSERT_PAYMENT(dbsession), row).scalar_one()
        run_write(
            dbsession,
            _INSERT_ALLOCATION(dbsession),
            [dict(share, payment_id=payment_id) for share in shares],
        )
        key_id = run_write(
            dbsession,
            _RECORD_KEY(dbsession),
            {f"key_{name}": value for name, value in key.items()} | {"payment_id": payment_id},
        ).scalar()
    payment = Payment(id=payment_id, **row)
    payment.allocations = [PaymentAllocation(payment_id=payment_id, **share) for share in shares]
    for loaded in (payment, *payment.allocations):
        make_transient_to_detached(loaded)
    dbsession.add(payment)
    return payment, key_id is not None


_PAYMENTS = table_of(Payment)
_ALLOCATIONS = table_of(PaymentAllocation)
_KEYS = table_of(IdempotencyKey)
_PAYMENT_ROW = (
    "payer_user_id",
    "payer_organisation_id",
    "provider",
    "amount_minor",
    "currency",
    "created_at",
    "expires_at",
    "public_id",
    "provider_payment_id",
    "hosted_url",
    "status",
    "refunded_minor",
    "method",
    "failure_reason",
    "needs_attention",
    "settled_at",
    "version",
)
_KEY_ROW = ("user_id", "key", "fingerprint", "created_at")
_INSERT_PAYMENT = Prebuilt(lambda dialect: insert(_PAYMENTS).returning(_PAYMENTS.c.id))
_INSERT_ALLOCATION = Prebuilt(lambda dialect: insert(_ALLOCATIONS))


def _key_values() -> dict:
    """The Idempotency-Key's row as parameters ``key_<column>``."""
    return {name: bindparam(f"key_{name}", type_=_KEYS.c[name].type) for name in _KEY_ROW}


_RECORD_KEY = Prebuilt(
    lambda dialect: (
        insert_unless_present(dialect, _KEYS, "user_id", "key")
        .values({**_key_values(), "payment_id": bindparam("payment_id")})
        .returning(_KEYS.c.id)
    )
)


def _build_paying(dialect: str):
    """PostgreSQL only: the payment, its allocations (the parameters ``bill_ids`` and
    ``amounts``, two arrays) and its Idempotency-Key (unless the key is taken) in one
    statement, returning the payment's id and the key's (NULL if it was taken)::

        WITH new_payment AS (INSERT INTO payment ... RETURNING id),
             new_allocations AS (INSERT INTO payment_allocation ... SELECT ... FROM new_payment,
                                 unnest(:bill_ids, :amounts)),
             new_key AS (INSERT INTO idempotency_key ... SELECT ... FROM new_payment
                         ON CONFLICT DO NOTHING RETURNING id)
        SELECT new_payment.id, (SELECT id FROM new_key) FROM new_payment
    """
    payment = (
        insert(_PAYMENTS)
        .values({name: bindparam(name, type_=_PAYMENTS.c[name].type) for name in _PAYMENT_ROW})
        .returning(_PAYMENTS.c.id)
        .cte("new_payment")
    )
    shares = (
        func.unnest(
            bindparam("bill_ids", type_=postgresql.ARRAY(Integer)),
            bindparam("amounts", type_=postgresql.ARRAY(BigInteger)),
        )
        .table_valued("bill_id", "amount_minor")
        .render_derived()
    )
    allocations = (
        insert(_ALLOCATIONS)
        .from_select(
            ["payment_id", "bill_id", "amount_minor", "refunded_minor"],
            select(
                payment.c.id, shares.c.bill_id, shares.c.amount_minor, literal(0, BigInteger)
            ).join_from(payment, shares, true()),
        )
        .cte("new_allocations")
    )
    values = _key_values()
    key = (
        insert_unless_present(dialect, _KEYS, "user_id", "key")
        .from_select(
            [*values, "payment_id"], select(*values.values(), payment.c.id).select_from(payment)
        )
        .returning(_KEYS.c.id)
        .cte("new_key")
    )
    return select(payment.c.id, select(key.c.id).scalar_subquery()).add_cte(allocations)


_PAYING = Prebuilt(_build_paying)


@dataclass(frozen=True)
class _Standing:
    """What paying some bills depends on, read once they are locked: the payment an
    Idempotency-Key already made (id, fingerprint), what each bill still owes, and a payment
    of one of them in progress."""

    key: tuple[int, str] | None
    owed: dict[int, int]
    busy: int | None


def _standing(dbsession: Session, user_id: int, key: str, bill_ids: list[int]) -> _Standing:
    """One query, after the bills' locks are granted (so it sees what committed meanwhile)."""
    rows = dbsession.execute(
        _STANDING(dbsession), {"user_id": user_id, "key": key, "bill_ids": bill_ids}
    ).all()
    first = rows[0]
    busy = [row[2] for row in rows if row[2] is not None]
    return _Standing(
        key=None if first[3] is None else (first[3], first[4]),
        owed={row[0]: int(row[1]) for row in rows},
        busy=busy[0] if busy else None,
    )


def _build_standing(dialect: str):
    known = select(IdempotencyKey).where(
        IdempotencyKey.user_id == bindparam("user_id"), IdempotencyKey.key == bindparam("key")
    )
    in_progress = (
        select(PaymentAllocation.payment_id)
        .join(Payment)
        .where(
            PaymentAllocation.bill_id == Bill.id,
            # its states as plain values: a list given to in_() is an expanding parameter
            or_(*(Payment.status == status for status in sorted(state.IN_PROGRESS))),
        )
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Bill.id,
        ledger.bill_outstanding(),
        in_progress,
        known.with_only_columns(IdempotencyKey.payment_id).scalar_subquery(),
        known.with_only_columns(IdempotencyKey.fingerprint).scalar_subquery(),
    ).where(one_of(Bill.id, "bill_ids", dialect))


_STANDING = Prebuilt(_build_standing)
_LOCK_BILLS = Prebuilt(
    lambda dialect: lock_rows(
        select(Bill).where(one_of(Bill.id, "bill_ids", dialect)).order_by(Bill.id)
    )
)


def _known_payment(dbsession: Session, key: tuple[int, str], print_: str) -> Payment:
    payment_id, recorded = key
    if recorded != print_:
        raise Refusal(CONFLICT, _("This Idempotency-Key was used for a different payment."))
    return dbsession.get_one(Payment, payment_id)


def _known_key(dbsession: Session, user_id: int, key: str, print_: str) -> Payment | None:
    record = dbsession.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if record is None:
        return None
    return _known_payment(dbsession, (record.payment_id, record.fingerprint), print_)


def settling_payment(dbsession: Session, bill_id: int) -> tuple[Payment, PaymentAllocation] | None:
    """The payment that paid ``bill_id`` (the most recent one settled), with its share."""
    row = dbsession.execute(
        select(Payment, PaymentAllocation)
        .join(PaymentAllocation)
        .where(PaymentAllocation.bill_id == bill_id, Payment.status.in_(state.SETTLED))
        .order_by(Payment.settled_at.desc(), Payment.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def in_progress_payment(dbsession: Session, bill_ids: list[int]) -> Payment | None:
    return dbsession.scalar(
        select(Payment)
        .join(PaymentAllocation)
        .where(PaymentAllocation.bill_id.in_(bill_ids), Payment.status.in_(state.IN_PROGRESS))
        .limit(1)
    )


def start_payment(
    payment: Payment,
    provider,
    *,
    description: str,
    return_url: str,
    notify_url: str,
    now: dt.datetime,
    locked: bool = False,
    lines: Sequence[PaymentLine] = (),
    locale: str | None = None,
) -> str:
    """Open the provider's hosted page for ``payment``; returns its URL (refused once it is
    no longer waiting to be paid, or expired).

    Safe to repeat and to run twice at once (a double click, two tabs): the payment is locked
    first, so one request calls the provider and the other, once the first has committed, finds
    the page it opened (``locked``: the caller locked and read it afresh already). The
    provider keys the payment on our reference besides. ``lines``: its bills, as the
    provider's page may list them; ``locale``: the payer's language, for the provider's page.
    The provider is told when the payment expires, so its page closes then too.
    """
    if not locked:
        payment = lock_payment(_session_of(payment), payment.id)
    if payment.status == state.STARTED and payment.hosted_url:
        return payment.hosted_url
    if payment.status != state.CREATED:
        raise Refusal(CONFLICT, _("This payment is no longer waiting to be paid."), about=payment)
    if payment.expires_at <= now:
        # A review page left open too long: expired now rather than by the next sweep, so the
        # payer is shown the outcome and offered a new payment.
        state.transition(payment, state.EXPIRED, "not started in time", now)
        raise Refusal(CONFLICT, _("This payment was not started in time."), about=payment)
    started = provider.start_payment(
        payment.public_id,
        payment.amount,
        description,
        return_url,
        notify_url,
        lines,
        expires_at=payment.expires_at,
        locale=locale,
    )
    state.transition_written(
        payment,
        state.STARTED,
        "hosted payment page opened",
        now,
        # the payer may have chosen another of the providers configured than it was created with
        provider=provider.name,
        provider_payment_id=started.provider_payment_id,
        hosted_url=started.hosted_url,
    )
    return started.hosted_url


def cancel_unstarted(payment: Payment, now: dt.datetime) -> bool:
    """Cancel ``payment`` if it was never sent to the provider (the payer changed their mind
    on the review page), so its bills can be paid otherwise at once; False if it was sent."""
    payment = lock_payment(_session_of(payment), payment.id)
    if payment.status != state.CREATED:
        return False
    state.transition(payment, state.CANCELLED, "cancelled by the payer before paying", now)
    return True


def _session_of(payment: Payment) -> Session:
    """The session ``payment`` was loaded in: billing only ever handles loaded payments."""
    session = object_session(payment)
    if session is None:
        raise ValueError(f"payment {payment.public_id} is not in a database session")
    return session


def lock_payment(dbsession: Session, payment_id: int, *, settling: bool = False) -> Payment:
    """``payment_id`` locked and read afresh; ``settling`` it also locks its bills (another
    payment of them settling at the same moment must see this one's posting) and loads what
    a settlement reads (allocations, bills and their services, payer) in the same statement."""
    query = _LOCK_FOR_SETTLING if settling else _LOCK
    return dbsession.scalars(query(dbsession), {"payment_id": payment_id}).unique().one()


_LOCK = Prebuilt(
    lambda dialect: lock_rows(select(Payment).where(Payment.id == bindparam("payment_id")))
)
_LOCK_FOR_SETTLING = Prebuilt(
    lambda dialect: (
        select(Payment)
        .where(Payment.id == bindparam("payment_id"))
        .join(Payment.allocations)
        .join(PaymentAllocation.bill)
        .join(Bill.service)
        .outerjoin(Payment.payer_user)
        .options(
            contains_eager(Payment.allocations)
            .contains_eager(PaymentAllocation.bill)
            .contains_eager(Bill.service),
            contains_eager(Payment.payer_user),
        )
        # bills locked in id order, as create_payment locks them
        .order_by(PaymentAllocation.bill_id)
        .with_for_update(key_share=True, of=[Payment.__table__, Bill.__table__])
        .execution_options(populate_existing=True)
    )
)


def apply_provider_payment(
    dbsession: Session,
    payment: Payment,
    report,
    cause: str,
    now: dt.datetime,
    *,
    locked: bool = False,
) -> list[Refund]:
    """Bring ``payment`` in line with the provider's ``report`` (a ProviderPayment).

    Repeated, late or out-of-order reports change nothing once the outcome is recorded, and
    the settlement is posted to the ledger exactly once. Returns refunds to send to the
    provider once the transaction commits (an overpayment is given back).

    ``payment`` is locked here unless the caller did (``locked``, with
    :func:`lock_payment` ``settling`` for a success). Another transaction that recorded an
    outcome first without the lock (the version column catches it) makes the flush raise
    StaleDataError, which pyramid_retry answers by running the request again.
    """
    if not locked:
        payment = lock_payment(dbsession, payment.id, settling=report.status == "succeeded")
    if report.amount != payment.amount:
        flag_for_clerk(dbsession, payment, "provider reports a different amount")
        log.error("payment %s: provider amount differs", payment.public_id)
        return []
    if report.status == "succeeded" and payment.status in (state.FAILED, state.CANCELLED):
        # Final here, yet the provider says it took the money: a clerk must look (refund it
        # at the provider), the ledger is not changed behind the state machine's back.
        flag_for_clerk(
            dbsession, payment, f"provider reports success on a {payment.status} payment"
        )
        log.error(
            "payment %s: provider reports success after %s", payment.public_id, payment.status
        )
        return []
    if report.status == "succeeded" and payment.status not in state.SETTLED:
        state.transition_written(
            payment, state.SUCCEEDED, cause, now, method=report.method, settled_at=now
        )
        overpaid = _post_settlement(dbsession, payment)
        events.announce(events.PaymentSucceeded(payment, dbsession))
        if overpaid:
            excess = overpaid_by_bill(dbsession, payment)
            if excess:
                return [
                    record_refund(
                        dbsession,
                        payment,
                        excess,
                        payment.refundable,
                        "Overpayment: the bill was already paid.",
                    )
                ]
    elif report.status in ("failed", "cancelled") and payment.status in state.IN_PROGRESS:
        payment.failure_reason = report.failure_reason
        state.transition(
            payment, state.FAILED if report.status == "failed" else state.CANCELLED, cause, now
        )
    elif report.status != "pending":
        log.info(
            "payment %s: %s report ignored in state %s",
            payment.public_id,
            report.status,
            payment.status,
        )
    return []


def _post_settlement(dbsession: Session, payment: Payment) -> bool:
    """Post the money received; True if it overpaid a bill (flagged for a clerk)."""
    clearing, clearing_kind = ledger.clearing_account(payment.provider)
    lines = [Line(clearing, clearing_kind, payment.amount)]
    for allocation in payment.allocations:
        account, kind = ledger.receivable_account(allocation.bill)
        lines.append(
            Line(
                account, kind, -Money(allocation.amount_minor, payment.currency), allocation.bill_id
            )
        )
    try:
        # its bills were locked with it (lock_payment ``settling``): what they owed just
        # before is read after any other payment of them committed
        _, balances = ledger.append_owed_before(
            dbsession,
            "payment_settled",
            f"payment:{payment.id}:settled",
            f"Payment {payment.public_id}",
            lines,
            [a.bill_id for a in payment.allocations],
        )
    except AlreadyPosted:
        return False
    overpaid = [
        allocation.bill
        for allocation in payment.allocations
        if balances[allocation.bill_id] < allocation.amount_minor
        or allocation.bill.cancelled_at is not None
    ]
    if overpaid:
        flag_for_clerk(
            dbsession, payment, "overpayment: " + ", ".join(b.number for b in overpaid)[:180]
        )
        log.warning(
            "payment %s overpays %d bills: flagged for a clerk", payment.public_id, len(overpaid)
        )
    return bool(overpaid)


def overpaid_by_bill(dbsession: Session, payment: Payment) -> dict[int, Money]:
    """What ``payment`` paid beyond what each of its bills owed (to be refunded on that bill)."""
    balances = ledger.bill_balances(dbsession, [a.bill_id for a in payment.allocations])
    refundable = _refundable_by_bill(dbsession, payment)
    excess = {
        a.bill_id: min(max(0, -balances[a.bill_id]), refundable[a.bill_id])
        for a in payment.allocations
    }
    return {bill_id: Money(minor, payment.currency) for bill_id, minor in excess.items() if minor}


#: the states in which what is left of a payment can be refunded
REFUNDABLE = frozenset({state.SUCCEEDED, state.PARTLY_REFUNDED})


def can_refund(payment: Payment) -> bool:
    return payment.status in REFUNDABLE and payment.refundable.minor > 0


def _refundable_by_bill(dbsession: Session, payment: Payment) -> dict[int, int]:
    """What ``payment`` can still give back on each of its bills (minor units): what it paid
    on the bill less the lines of its refunds that are asked for or done."""
    reserved = dict(
        dbsession.execute(
            select(RefundLine.bill_id, func.sum(RefundLine.amount_minor))
            .join(Refund, RefundLine.refund_id == Refund.id)
            .where(Refund.payment_id == payment.id, Refund.status.in_(state.REFUND_RESERVING))
            .group_by(RefundLine.bill_id)
        ).all()
    )
    return {
        a.bill_id: a.amount_minor - int(reserved.get(a.bill_id, 0)) for a in payment.allocations
    }


def refundable_on_bill(dbsession: Session, bill_id: int) -> tuple[Payment, Money] | None:
    """The payment that settled ``bill_id`` and what it can still give back on that bill
    (refunds asked for and not failed count against it), or None if nothing is left."""
    paid = settling_payment(dbsession, bill_id)
    if paid is None:
        return None
    payment = paid[0]
    minor = min(_refundable_by_bill(dbsession, payment)[bill_id], payment.refundable.minor)
    return (payment, Money(minor, payment.currency)) if minor > 0 else None


@dataclass(frozen=True)
class RefundShare:
    """One bill of a payment: what the payment can still give back on it, and what the payer
    owes on it now and would owe once ``amount`` is refunded on it (a refund makes the bill
    owed again by what it gives back)."""

    bill: Bill
    paid: Money
    refundable: Money
    amount: Money
    owed: Money
    status: str
    owed_after: Money
    status_after: str

    @property
    def chosen(self) -> bool:
        return self.amount.minor > 0


def refund_shares(
    dbsession: Session, payment: Payment, amounts: Mapping[int, Money] | None = None
) -> list[RefundShare]:
    """Each bill of ``payment``, as refunding ``amounts`` (bill id -> money) would leave it."""
    amounts = amounts or {}
    refundable = _refundable_by_bill(dbsession, payment)
    bills = [allocation.bill for allocation in payment.allocations]
    zero = Money(0, payment.currency)
    shares = []
    for allocation, view in zip(payment.allocations, with_status(dbsession, bills), strict=True):
        amount = amounts.get(allocation.bill_id, zero)
        owed_after = view.outstanding + amount
        shares.append(
            RefundShare(
                bill=view.bill,
                paid=Money(allocation.amount_minor, payment.currency),
                refundable=Money(refundable[allocation.bill_id], payment.currency),
                amount=amount,
                owed=view.outstanding,
                status=view.status,
                owed_after=owed_after,
                status_after=status_of(view.bill, owed_after.minor),
            )
        )
    return shares


#: the refund form's amount fields are named this and the bill's public id; a refusal of an
#: amount names its field
AMOUNT_FIELD = "amount-"


def amount_field(bill: Bill) -> str:
    return AMOUNT_FIELD + bill.public_id


def check_refund(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    seen_refundable: Money,
    reason: str,
) -> list[RefundShare]:
    """The bills of ``payment`` as refunding ``amounts`` on the bills chosen would leave them;
    a :class:`Refusal` if that refund may not be made.

    ``seen_refundable`` is what the clerk saw as still refundable: if another refund changed
    it meanwhile, this one is refused, so no refund is made on figures the clerk did not see.
    """
    if payment.status not in REFUNDABLE:
        raise Refusal(CONFLICT, _("Only a settled payment can be refunded."), about=payment)
    if seen_refundable != payment.refundable:
        raise Refusal(
            CONFLICT,
            _(
                "The refundable amount changed meanwhile (another refund?). "
                "Look at the payment again."
            ),
            about=payment,
        )
    if not amounts:
        raise Refusal(
            INVALID,
            _("Choose the bill or bills to refund, with the amount for each."),
            about=payment,
            field="amounts",
        )
    bills = {allocation.bill_id: allocation.bill for allocation in payment.allocations}
    if set(amounts) - set(bills):
        raise Refusal(INVALID, _("One of these bills was not paid by this payment."), about=payment)
    # before the shares are worked out, which add each amount to what its bill owes
    for bill_id, amount in amounts.items():
        if amount.currency != payment.currency or amount.minor <= 0:
            raise Refusal(
                INVALID,
                _(
                    "The amount for bill ${bill} must be more than zero.",
                    mapping={"bill": bills[bill_id].number},
                ),
                about=payment,
                field=amount_field(bills[bill_id]),
            )
    shares = refund_shares(dbsession, payment, amounts)
    for share in shares:
        if share.amount.minor > share.refundable.minor:
            raise Refusal(
                INVALID,
                _(
                    "The amount for bill ${bill} is more than this payment can still give back"
                    " on it.",
                    mapping={"bill": share.bill.number},
                ),
                about=payment,
                field=amount_field(share.bill),
            )
    if not reason.strip():
        raise Refusal(INVALID, _("Give a reason for the refund."), about=payment, field="reason")
    return shares


@dataclass(frozen=True)
class Payee:
    """Where a bank refund goes when a clerk chose another account than the one the money
    came from, and why."""

    iban: str
    reason: str


def check_payee(dbsession: Session, payment: Payment, payee: Payee | None) -> Payee | None:
    """``payee`` checked, or None when it is the account the bank payment came from (or
    none was given); a :class:`Refusal` if it is not a valid IBAN or has no reason."""
    if payee is None:
        return None
    if payment.provider != matching.BANK:
        raise Refusal(INVALID, _("Only a bank transfer is refunded to an account."))
    iban = compact_iban(payee.iban)
    if not iban or iban == matching.origin_account(dbsession, payment)[0]:
        return None
    if not is_valid_iban(iban):
        raise Refusal(
            INVALID,
            _("The account is not a valid IBAN: check it against the payer's letter."),
            field="iban",
        )
    if not payee.reason.strip():
        raise Refusal(
            INVALID,
            _("Say why the refund goes to another account than the one the money came from."),
            field="account_reason",
        )
    return Payee(iban, payee.reason.strip()[:2000])


def record_refund(
    dbsession: Session,
    payment: Payment,
    amounts: Mapping[int, Money],
    seen_refundable: Money,
    reason: str,
    clerk=None,
    status: str = state.REFUND_REQUESTED,
    payee: Payee | None = None,
) -> Refund:
    """Record a refund of ``amounts`` (bill id -> money), for the caller to send to the
    provider after commit (:func:`portal.billing.refunding.request_refund` does both): one
    refund, so one provider refund and one credit note, with a line per bill chosen. Its
    ``status`` is awaiting_approval when a second clerk must approve it first.

    A payment that came by bank transfer has no provider to send to: its refund waits to be
    exported in a credit-transfer file (to_transfer, see :mod:`portal.billing.bank_refunds`),
    to the account the money came from, or to ``payee``'s.

    Checked by :func:`check_refund` once the payment is locked, so two clerks refunding at
    once cannot both refund the same money.
    """
    payment = lock_payment(dbsession, payment.id)
    shares = check_refund(dbsession, payment, amounts, seen_refundable, reason)
    payee = check_payee(dbsession, payment, payee)
    creditor: tuple[str | None, str | None] = (None, None)
    if payment.provider == matching.BANK:
        if status == state.REFUND_REQUESTED:
            status = state.REFUND_TO_TRANSFER
        creditor = matching.origin_account(dbsession, payment)
        if payee is not None:
            creditor = (payee.iban, creditor[1])
    chosen = [share for share in shares if share.chosen]
    total = sum(share.amount.minor for share in chosen)
    refund = Refund(
        payment_id=payment.id,
        amount_minor=total,
        currency=payment.currency,
        reason=reason.strip()[:2000],
        requested_by_id=clerk.id if clerk else None,
        status=status,
        # asked now by the portal's clock (a refund asked by a job or a test clock too)
        created_at=clock(registry_of(dbsession)).now(),
        creditor_iban=creditor[0] or None,
        creditor_name=creditor[1] or payment.payer_name or None,
        account_reason=payee.reason if payee is not None else None,
        lines=[
            RefundLine(bill_id=share.bill.id, amount_minor=share.amount.minor) for share in chosen
        ],
    )
    dbsession.add(refund)
    # Reserved now, so no second refund can be asked for the same money; the payment's state
    # changes when the provider confirms (post_refund), or the reservation is released.
    payment.refunded_minor += total
    dbsession.flush()
    state.audit_refund_requested(dbsession, refund, payment, clerk)
    if payee is not None:
        state.audit_refund_account(dbsession, refund, payment, clerk)
    return refund


def send_refund(dbsession: Session, refund: Refund, provider, now: dt.datetime) -> None:
    """Ask the provider for ``refund`` (idempotent on the refund's id) and post it once the
    provider says it succeeded; one still pending waits for the provider's notification.

    A refusal by the provider (not a network failure, which is retried), or a refund it
    reports failed, fails the refund, gives the reserved amount back and flags the payment
    for a clerk.
    """
    if refund.status != state.REFUND_REQUESTED:
        return
    payment = refund.payment
    try:
        answer = provider.refund(payment.provider_payment_id, refund.amount, refund.public_id)
    except ProviderRefused as refused:
        fail_refund(
            dbsession,
            refund,
            f"refused by the provider: {refused.code}",
            now,
            "refused by the provider",
        )
        log.error("refund %s refused by the provider: %s", refund.public_id, refused.code)
        return
    refund.provider_refund_id = answer.provider_refund_id
    apply_refund_report(dbsession, refund, answer.status, now)


#: a provider's refund statuses: not given back, not yet known (any other: given back)
REFUND_UNDONE = frozenset({"failed", "canceled", "cancelled"})
REFUND_PENDING = frozenset({"pending", "requires_action", "processing"})


def apply_refund_report(
    dbsession: Session,
    refund: Refund,
    status: str,
    now: dt.datetime,
    cause: str = "confirmed by the provider",
) -> None:
    """Bring ``refund`` in line with the provider's ``status`` of it: waiting while it is
    pending, failed if the provider gave up on it, else (it succeeded) posted."""
    if status in REFUND_PENDING:
        log.info("refund %s is %s at the provider: waiting", refund.public_id, status)
    elif status in REFUND_UNDONE:
        fail_refund(
            dbsession, refund, f"{status} at the provider", now, f"{status} at the provider"
        )
        log.error("refund %s %s at the provider", refund.public_id, status)
    else:
        post_refund(dbsession, refund, now, cause)


def fail_refund(dbsession: Session, refund: Refund, cause: str, now: dt.datetime, why: str) -> None:
    """A refund the provider will not make: failed (``cause``), its reserved amount given
    back, the payment flagged for a clerk (saying ``why``). Once, whoever calls it (the
    payment is locked first)."""
    payment = lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    if refund.status != state.REFUND_REQUESTED:
        return
    state.transition_refund(refund, state.REFUND_FAILED, cause, now)
    payment.refunded_minor -= refund.amount_minor
    flag_for_clerk(dbsession, payment, f"refund {refund.public_id} {why}")
    dbsession.flush()


def post_refund(
    dbsession: Session,
    refund: Refund,
    now: dt.datetime,
    cause: str = "confirmed by the provider",
) -> None:
    """Post a refund the provider confirmed: each bill it names is owed again by its line,
    the money leaves the clearing account. Exactly once, whoever calls it (the refund job or
    the provider's notification), because both first lock the payment and then look at the
    refund.

    A cancelled bill stays owed nothing: what the refund would make owed again on it (past
    an overpayment it gives back) is taken back from what the bill was issued to, as
    cancelling it then would have."""
    payment = lock_payment(dbsession, refund.payment_id)
    dbsession.refresh(refund)
    if refund.status not in state.REFUND_UNDER_WAY:
        return
    # its bills locked and read afresh, in id order as settling locks them: a cancellation
    # committing meanwhile is then seen here, not after the refund made the bill owed again
    dbsession.scalars(
        _LOCK_BILLS(dbsession), {"bill_ids": sorted({line.bill_id for line in refund.lines})}
    ).all()
    clearing, clearing_kind = ledger.clearing_account(payment.provider)
    lines = [Line(clearing, clearing_kind, -refund.amount)]
    allocations = {allocation.bill_id: allocation for allocation in payment.allocations}
    cancelled = [line.bill_id for line in refund.lines if line.bill.cancelled_at is not None]
    balances = ledger.bill_balances(dbsession, cancelled)
    for line in refund.lines:
        account, kind = ledger.receivable_account(line.bill)
        owed = balances.get(line.bill_id)
        stays_cancelled = 0 if owed is None else max(0, owed + line.amount_minor)
        owed_again = Money(line.amount_minor - stays_cancelled, payment.currency)
        lines.append(Line(account, kind, owed_again, line.bill_id))
        if stays_cancelled:
            issued, issued_kind = ledger.issued_to(dbsession, line.bill)
            lines.append(Line(issued, issued_kind, Money(stays_cancelled, payment.currency)))
    ledger.append(
        dbsession, "refund", f"refund:{refund.id}:settled", f"Refund {refund.public_id}", lines
    )
    for line in refund.lines:
        allocations[line.bill_id].refunded_minor += line.amount_minor
    state.transition_refund(refund, state.REFUND_SUCCEEDED, cause, now)
    confirmed = sum(
        r.amount_minor
        for r in dbsession.scalars(
            select(Refund).where(
                Refund.payment_id == payment.id, Refund.status == state.REFUND_SUCCEEDED
            )
        )
    )
    state.transition(
        payment,
        state.REFUNDED if confirmed == payment.amount_minor else state.PARTLY_REFUNDED,
        f"refund of {refund.amount} {cause}",
        now,
    )
    dbsession.flush()
    events.announce(events.RefundSucceeded(refund, dbsession))
