"""Bids never submitted: once a tender takes no more bids, their money is not left stuck.

A representative may start a bid, pay its fee and deposit and never submit it. Once the
tender is past its deadline (awaiting opening, opened) or cancelled, such a bid can never be
submitted, so :func:`close_unsubmitted_bids` closes it: its deposit, if lodged, is given
back, its unpaid bills are cancelled (a paid fee stays paid: it is the department's revenue,
as for a withdrawal), its draft is emptied and it is marked lapsed. A bill with a payment
still under way at the provider is left for the next run, and so is its bid (it stays a
draft): once the payment settles the deposit is given back, once it fails the bill is
cancelled. The periodic job
(:mod:`portal.procurement.jobs`) runs this every minute for the tenders that still have
such bids (:func:`tenders_with_unsubmitted_bids`), so it is idempotent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.procurement import state
from portal.procurement.bid_billing import close_charges
from portal.procurement.bids import DRAFT, LAPSED, empty_draft, lock_tender
from portal.procurement.models import Bid, Tender

#: a tender in one of these statuses takes no more bids, whatever its deadline said
CLOSED = frozenset({state.AWAITING_OPENING, state.CANCELLED}) | state.AFTER_OPENING


def tenders_with_unsubmitted_bids(dbsession) -> list[int]:
    """The ids of the closed tenders that still have a bid never submitted nor closed."""
    return list(
        dbsession.scalars(
            select(Tender.id)
            .where(
                Tender.status.in_(CLOSED),
                select(Bid.id).where(Bid.tender_id == Tender.id, Bid.status == DRAFT).exists(),
            )
            .order_by(Tender.id)
        )
    )


def close_unsubmitted_bids(dbsession, tender: Tender, now: dt.datetime) -> list[Bid]:
    """Close every bid of ``tender`` (no longer taking bids) that was never submitted: deposit
    given back, unpaid bills cancelled, the bid lapsed; returns the bids lapsed now. Under the
    tender's lock, so a submission that held the lock before the deadline is seen."""
    lock_tender(dbsession, tender)
    if tender.status not in CLOSED:
        return []
    if tender.status == state.CANCELLED:
        reason = f"Tender {tender.reference} cancelled"
    else:
        reason = f"Bid on tender {tender.reference} not submitted by the deadline"
    drafts = dbsession.scalars(
        select(Bid)
        .where(Bid.tender_id == tender.id, Bid.status == DRAFT)
        .order_by(Bid.id)
        .execution_options(populate_existing=True)
    ).all()
    lapsed = []
    for bid in drafts:
        if close_charges(dbsession, bid, reason, now):
            bid.status = LAPSED  # draft -> lapsed, as bids.TRANSITIONS allows
            empty_draft(bid)
            bid.updated_at = now
            lapsed.append(bid)
    dbsession.flush()
    return lapsed
