"""A tender's public history, from its publication to its contract, as one list of dated events.

Everything here is what the law makes public about a tender: its versions, the answers to
questions, the opening and its protocol, the auction's result, the buyer's qualification
decisions and award with their reasons, complaints with their outcome, the contract. It names
organisations, never people: not who asked a question, not who filed a complaint or for whom
(only their organisation), not which clerk decided (the signed opening protocol alone names
the committee). A complaint's own text and documents stay with the parties and the reviewer.

The events are built from the rows themselves, not from a log written beside them, so the
history cannot say something the records do not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from babel.dates import format_date
from sqlalchemy import select

from portal.i18n import _
from portal.money import Money
from portal.procurement import opening, questions, state
from portal.procurement.links import route_path_or_none
from portal.procurement.local_times import local_time
from portal.procurement.models import (
    AUCTION_CANCELLED,
    AUCTION_FINISHED,
    AWARD_CANCELLED,
    COMPLAINT_AWAITING_PAYMENT,
    COMPLAINT_LAPSED,
    COMPLAINT_REJECTED,
    COMPLAINT_UPHELD,
    DISQUALIFIED,
    QUALIFIED,
    AuctionProtocol,
    Award,
    Complaint,
    QualificationDecision,
    Tender,
)
from portal.procurement.prices import auction_prices
from portal.templating import locale_name

#: how much of a question the timeline quotes; the whole of it is under "Questions and answers"
QUOTED = 200


@dataclass(frozen=True)
class Link:
    url: str
    label: str


@dataclass(frozen=True)
class Event:
    """One thing that happened to the tender: ``at`` (aware UTC, for ``<time datetime>``),
    ``when`` (the same in the portal's timezone, as people read it), a ``title`` and the
    ``lines`` that say why (reasons as their authors wrote them), a ``note`` when a later event
    overturned it (an annulled decision, a withdrawn award), and at most one ``link``."""

    kind: str
    at: dt.datetime
    when: str
    title: str
    lines: tuple[str, ...] = ()
    note: str = ""
    link: Link | None = None
    #: orders events of the same instant (an upheld complaint before the award it withdraws)
    rank: int = field(default=0, compare=False)


#: kinds in the order they happen when they share an instant
KINDS = (
    "published",
    "amended",
    "question",
    "questions_closed",
    "bids_closed",
    "opened",
    "auction",
    "decision",
    "award",
    "complaint",
    "complaint_decided",
    "award_withdrawn",
    "standstill_ended",
    "contract",
    "unsuccessful",
    "cancelled",
)

#: the status changes that are events of their own; the others are told by the rows they
#: come with (an award, a contract, an opening, an auction)
_TRANSITIONS = {
    state.BIDDING: ("questions_closed", _("The period for questions ended")),
    state.AWAITING_OPENING: ("bids_closed", _("The deadline for bids passed")),
    state.CONTRACTING: (
        "standstill_ended",
        _("The standstill period ended with no complaint open: the contract may be signed"),
    ),
    state.UNSUCCESSFUL: ("unsuccessful", _("The tender was declared unsuccessful")),
    state.CANCELLED: ("cancelled", _("The tender was cancelled")),
}

#: the causes the clock writes on its transitions: not reasons anyone gave
_CLOCK = frozenset({state.BIDDING, state.AWAITING_OPENING, state.CONTRACTING})


class _Builder:
    def __init__(self, request, tender: Tender):
        self.request = request
        self.tender = tender
        self.translate = request.localizer.translate
        self.locale = locale_name(request)
        self.events: list[Event] = []

    def add(self, kind: str, at: dt.datetime | None, title, *lines, note="", link=None) -> None:
        if at is None:
            return
        self.events.append(
            Event(
                kind=kind,
                at=at,
                when=local_time(self.request, at),
                title=self.translate(title),
                lines=tuple(self.translate(line) for line in lines if line),
                note=self.translate(note) if note else "",
                link=link,
                rank=KINDS.index(kind),
            )
        )

    def link(self, route: str, label, **parts) -> Link | None:
        url = route_path_or_none(self.request, route, reference=self.tender.reference, **parts)
        return Link(url, self.translate(label)) if url else None

    def money(self, minor: int, currency: str) -> str:
        return Money(minor, currency).format(self.locale)

    def when(self, at: dt.datetime | None) -> str:
        return local_time(self.request, at)


def tender_timeline(request, tender: Tender) -> list[Event]:
    """The tender's events, oldest first."""
    build = _Builder(request, tender)
    _versions(build)
    _questions(build)
    _transitions(build)
    _opening(build)
    _auction(build)
    _decisions(build)
    _awards(build)
    _complaints(build)
    _contract(build)
    return sorted(build.events, key=lambda event: (event.at, event.rank))


def _versions(build: _Builder) -> None:
    for version in build.tender.versions:
        if version.number == 1:
            build.add("published", version.at, _("The tender was published"))
            continue
        build.add(
            "amended",
            version.at,
            _("The tender was amended (version ${number})", mapping={"number": version.number}),
            version.reason,
            link=Link(f"#version-{version.number}", build.translate(_("What changed"))),
        )


def _questions(build: _Builder) -> None:
    """Answered questions only: a question is published with its answer, without who asked."""
    for number, question in enumerate(questions.answered(build.tender), start=1):
        text = question.text
        quoted = text if len(text) <= QUOTED else text[: QUOTED - 1].rstrip() + "…"
        build.add(
            "question",
            question.answered_at,
            _("A question was answered"),
            quoted,
            link=Link(f"#question-{number}", build.translate(_("Question and answer"))),
        )


def _transitions(build: _Builder) -> None:
    for transition in build.tender.transitions:
        known = _TRANSITIONS.get(transition.to_status)
        if known is None:
            continue
        kind, title = known
        cause = "" if transition.to_status in _CLOCK else transition.cause
        build.add(kind, transition.at, title, cause)


def _opening(build: _Builder) -> None:
    tender = build.tender
    if not state.bids_opened(tender):
        return
    public = state.prices_public(tender)
    protocol = public and opening.protocol_of(build.request.dbsession, tender)
    count = len(opening.current_versions(build.request.dbsession, tender))
    build.add(
        "opened",
        tender.opened_at,
        _("The committee opened the bids"),
        _(
            "${count} bids were opened; the bids as opened are listed above.",
            mapping={"count": count},
        )
        if public
        else _(
            "${count} bids were opened; their prices are published when the auction ends.",
            mapping={"count": count},
        ),
        link=build.link("tender_protocol", _("Opening protocol (PDF)")) if protocol else None,
    )


def _auction(build: _Builder) -> None:
    auction = build.tender.auction
    if auction is None or auction.status == AUCTION_CANCELLED:
        return
    if auction.status != AUCTION_FINISHED:
        build.add(
            "auction",
            auction.starts_at,
            _("Electronic auction"),
            _(
                "In ${rounds} rounds, from ${start} until ${end} at the latest.",
                mapping={
                    "rounds": auction.rounds,
                    "start": build.when(auction.starts_at),
                    "end": build.when(auction.ends_at),
                },
            ),
            link=build.link("tender_auction", _("Watch the auction")),
        )
        return
    finals = auction_prices(build.request.dbsession, build.tender)
    lines = [
        _(
            "${organisation}: ${opened}, after the auction ${final}",
            mapping={
                "organisation": bidder.bid.organisation.name,
                "opened": build.money(bidder.initial_price_minor, build.tender.currency),
                "final": build.money(
                    finals.get(bidder.bid_id, bidder.price_minor), build.tender.currency
                ),
            },
        )
        for bidder in sorted(auction.bidders, key=lambda bidder: bidder.price_minor)
    ]
    protocol = build.request.dbsession.scalar(
        select(AuctionProtocol.id).where(AuctionProtocol.auction_tender_id == build.tender.id)
    )
    build.add(
        "auction",
        auction.finished_at or auction.ends_at,
        _("The electronic auction ended"),
        *lines,
        link=build.link("tender_auction_protocol", _("Auction protocol (PDF)"))
        if protocol
        else None,
    )


def _decisions(build: _Builder) -> None:
    decisions = build.request.dbsession.scalars(
        select(QualificationDecision)
        .where(QualificationDecision.tender_id == build.tender.id)
        .order_by(QualificationDecision.decided_at, QualificationDecision.id)
    )
    for decision in decisions:
        named = {"organisation": decision.bid.organisation.name}
        if decision.outcome == QUALIFIED:
            title = _("${organisation}'s bid was qualified", mapping=named)
        elif decision.outcome == DISQUALIFIED:
            title = _("${organisation}'s bid was disqualified", mapping=named)
        else:
            title = _("${organisation} refused to sign the contract", mapping=named)
        note = (
            _(
                "Annulled ${when}: ${reason}",
                mapping={
                    "when": build.when(decision.annulled_at),
                    "reason": decision.annulled_reason or "",
                },
            )
            if decision.annulled_at is not None
            else ""
        )
        build.add(
            "decision",
            decision.decided_at,
            title,
            _("Reason: ${reason}", mapping={"reason": decision.reason}) if decision.reason else "",
            note=note,
        )


def _awards(build: _Builder) -> None:
    awards = build.request.dbsession.scalars(
        select(Award).where(Award.tender_id == build.tender.id).order_by(Award.decided_at, Award.id)
    )
    for award in awards:
        organisation = award.bid.organisation.name
        cancelled = award.status == AWARD_CANCELLED
        build.add(
            "award",
            award.decided_at,
            _(
                "Awarded to ${organisation} for ${value}",
                mapping={
                    "organisation": organisation,
                    "value": build.money(award.value_minor, award.currency),
                },
            ),
            _("Reasons: ${reasons}", mapping={"reasons": award.reasons}),
            _(
                "Standstill period until ${when}: until then the other bidders may complain "
                "against the award.",
                mapping={"when": build.when(award.standstill_until)},
            ),
            note=(
                _("Withdrawn ${when}.", mapping={"when": build.when(award.cancelled_at)})
                if cancelled
                else ""
            ),
        )
        if cancelled:
            build.add(
                "award_withdrawn",
                award.cancelled_at,
                _(
                    "The award to ${organisation} was withdrawn",
                    mapping={"organisation": organisation},
                ),
                award.cancel_reason or "",
                _("The tender went back to evaluation."),
            )


def _complaints(build: _Builder) -> None:
    """A complaint is told by who filed it (their organisation), against which award, where
    it stands and the reviewer's decision; never its text, documents or the person."""
    complaints = build.request.dbsession.scalars(
        select(Complaint)
        .where(Complaint.tender_id == build.tender.id)
        .order_by(Complaint.filed_at, Complaint.id)
    )
    for complaint in complaints:
        organisation = complaint.organisation.name
        if complaint.status == COMPLAINT_AWAITING_PAYMENT:
            where = _("It is registered once its fee is paid.")
        elif complaint.status == COMPLAINT_LAPSED:
            where = _("It lapsed: its fee was not paid within the standstill period.")
        else:
            where = _(
                "Registered ${when}, its fee paid; a reviewer decides on it.",
                mapping={"when": build.when(complaint.registered_at)},
            )
        build.add(
            "complaint",
            complaint.filed_at,
            _(
                "${organisation} complained against the award to ${winner}",
                mapping={
                    "organisation": organisation,
                    "winner": complaint.award.bid.organisation.name,
                },
            ),
            where,
        )
        if complaint.status in (COMPLAINT_UPHELD, COMPLAINT_REJECTED):
            build.add(
                "complaint_decided",
                complaint.decided_at,
                _(
                    "The complaint of ${organisation} was upheld",
                    mapping={"organisation": organisation},
                )
                if complaint.status == COMPLAINT_UPHELD
                else _(
                    "The complaint of ${organisation} was rejected",
                    mapping={"organisation": organisation},
                ),
                _("Reasons: ${reasons}", mapping={"reasons": complaint.decision_reason})
                if complaint.decision_reason
                else "",
            )


def _contract(build: _Builder) -> None:
    contract = build.tender.contract
    if contract is None:
        return
    build.add(
        "contract",
        contract.recorded_at,
        _(
            "Contract signed with ${organisation}",
            mapping={"organisation": contract.award.bid.organisation.name},
        ),
        _(
            "Value: ${value}; signed on ${day}.",
            mapping={
                "value": build.money(contract.value_minor, contract.currency),
                "day": format_date(contract.signed_on, "long", locale=build.locale),
            },
        ),
        link=(
            build.link("tender_contract_document", _("The contract (document)"))
            if build.tender.status == state.COMPLETE
            else None
        ),
    )
