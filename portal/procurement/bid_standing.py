"""Where a bid stands once the bids are opened, and what its bidder must do next.

Read from the tender's status and the records of its evaluation (qualification decisions,
awards, complaints, the contract): the bidder learns from one box whether they are in the
auction, under evaluation, qualified or disqualified and why, awarded or not, and whether
there is something to do (take part in the auction, complain during the standstill, pay a
complaint's fee, sign the contract). Links to pages of parts not installed are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.i18n import _, pgettext
from portal.money import Money
from portal.procurement import state
from portal.procurement.bids import SUBMITTED, current_version
from portal.procurement.links import route_path_or_none
from portal.procurement.local_times import local_time
from portal.procurement.models import (
    COMPLAINT_AWAITING_PAYMENT,
    COMPLAINT_LAPSED,
    COMPLAINT_REGISTERED,
    COMPLAINT_REJECTED,
    COMPLAINT_UPHELD,
    DISQUALIFIED,
    OPEN_COMPLAINTS,
    QUALIFIED,
    REFUSED_TO_SIGN,
    Bid,
    Complaint,
    QualificationDecision,
    TenderTransition,
)
from portal.templating import format_day, locale_name

#: codes of :attr:`Standing.code` (also the status tag's colour)
NOT_OPENED = "not_opened"
IN_AUCTION = "auction"
UNDER_EVALUATION = "evaluation"
QUALIFIED_CODE = "qualified"
DISQUALIFIED_CODE = "disqualified"
REFUSED_CODE = "refused_to_sign"
AWARDED = "awarded"
NOT_AWARDED = "not_awarded"
CONTRACT_SIGNED = "contract_signed"
UNSUCCESSFUL = "unsuccessful"
CANCELLED = "cancelled"

COMPLAINT_LABELS = {
    COMPLAINT_AWAITING_PAYMENT: _("Awaiting its fee"),
    COMPLAINT_REGISTERED: _("Registered, with the reviewer"),
    COMPLAINT_UPHELD: pgettext("complaint state", "Upheld"),
    COMPLAINT_REJECTED: pgettext("complaint state", "Rejected"),
    COMPLAINT_LAPSED: _("Lapsed, its fee not paid"),
}


@dataclass(frozen=True)
class Step:
    """Something the bidder should do, with the page where they do it (None if not here)."""

    text: str
    url: str | None = None
    label: str = ""


@dataclass(frozen=True)
class ComplaintLine:
    public_id: str
    status: str
    label: str
    url: str | None


@dataclass(frozen=True)
class Standing:
    code: str
    label: str
    lines: tuple[str, ...]
    steps: tuple[Step, ...]
    complaints: tuple[ComplaintLine, ...] = ()


def bid_standing(request, bid: Bid) -> Standing | None:
    """Where ``bid`` stands after the opening; None before it, and for a bid that never went
    into the opening (a draft, withdrawn, not submitted in time)."""
    tender = bid.tender
    if not state.bids_opened(tender) or bid.status != SUBMITTED:
        return None
    return _Reader(request, bid).standing()


class _Reader:
    def __init__(self, request, bid: Bid):
        self.request = request
        self.bid = bid
        self.tender = bid.tender
        self.dbsession = request.dbsession
        self.translate = request.localizer.translate
        self.now = request.clock.now()

    def make(self, code: str, label, *lines, steps=()) -> Standing:
        return Standing(
            code=code,
            label=self.translate(label),
            lines=tuple(self.translate(line) for line in lines if line),
            steps=tuple(steps),
            complaints=self.complaints(),
        )

    def step(self, text, route: str | None = None, label=None, parts=None) -> Step:
        """``parts`` of the route's path: the tender's reference unless given."""
        if parts is None:
            parts = {"reference": self.tender.reference}
        url = route_path_or_none(self.request, route, **parts) if route else None
        return Step(self.translate(text), url, self.translate(label) if url and label else "")

    def when(self, at) -> str:
        return local_time(self.request, at)

    def money(self, minor: int, currency: str) -> str:
        return Money(minor, currency).format(locale_name(self.request))

    def complaints(self) -> tuple[ComplaintLine, ...]:
        found = self.dbsession.scalars(
            select(Complaint)
            .where(Complaint.bid_id == self.bid.id)
            .order_by(Complaint.filed_at, Complaint.id)
        )
        return tuple(
            ComplaintLine(
                complaint.public_id,
                complaint.status,
                self.translate(COMPLAINT_LABELS.get(complaint.status, complaint.status)),
                route_path_or_none(self.request, "complaint", public_id=complaint.public_id),
            )
            for complaint in found
        )

    def decision(self) -> QualificationDecision | None:
        """The bid's latest decision in force (an upheld complaint annuls decisions)."""
        return self.dbsession.scalar(
            select(QualificationDecision)
            .where(
                QualificationDecision.bid_id == self.bid.id,
                QualificationDecision.annulled_at.is_(None),
            )
            .order_by(QualificationDecision.decided_at.desc(), QualificationDecision.id.desc())
            .limit(1)
        )

    def annulled(self) -> QualificationDecision | None:
        return self.dbsession.scalar(
            select(QualificationDecision)
            .where(
                QualificationDecision.bid_id == self.bid.id,
                QualificationDecision.annulled_at.is_not(None),
            )
            .order_by(QualificationDecision.annulled_at.desc(), QualificationDecision.id.desc())
            .limit(1)
        )

    def cause(self, to_status: str) -> str:
        found = self.dbsession.scalar(
            select(TenderTransition.cause)
            .where(
                TenderTransition.tender_id == self.tender.id,
                TenderTransition.to_status == to_status,
            )
            .order_by(TenderTransition.id.desc())
            .limit(1)
        )
        return found or ""

    def standing(self) -> Standing:
        tender, bid = self.tender, self.bid
        version = current_version(bid)
        if version is None or version.opening_fault or version.opened_price_minor is None:
            return self.make(
                NOT_OPENED,
                _("Not opened as sealed"),
                _(
                    "Your bid could not be opened as it was sealed (${fault}): it takes no "
                    "further part in the tender.",
                    mapping={"fault": version.opening_fault if version else ""},
                ),
            )
        if tender.status == state.CANCELLED:
            return self.make(
                CANCELLED,
                _("The tender was cancelled"),
                self.cause(state.CANCELLED),
                steps=[self.step(_("Nothing more to do: a bid security held is given back."))],
            )
        contract = tender.contract
        if contract is not None:
            if contract.award.bid_id == bid.id:
                return self.make(
                    CONTRACT_SIGNED,
                    _("Contract signed"),
                    _(
                        "The contract for ${value} was signed on ${day}.",
                        mapping={
                            "value": self.money(contract.value_minor, contract.currency),
                            "day": format_day(self.request, contract.signed_on, "long"),
                        },
                    ),
                    steps=[
                        self.step(_("Deliver what the contract says; this tender is complete."))
                    ],
                )
            return self.make(
                NOT_AWARDED,
                _("Not awarded"),
                _(
                    "The contract was signed with ${organisation}.",
                    mapping={"organisation": contract.award.bid.organisation.name},
                ),
                steps=[self.step(_("Nothing more to do on this tender."))],
            )
        decision = self.decision()
        award = state.active_award(self.dbsession, tender)
        if decision is not None and decision.outcome == REFUSED_TO_SIGN:
            return self.make(
                REFUSED_CODE,
                _("You refused to sign the contract"),
                _("Recorded ${when}: ${reason}", mapping=self._decided(decision)),
                _("The award was withdrawn and your bid security forfeited."),
                steps=[self.step(_("Nothing more to do on this tender."))],
            )
        if award is not None and award.bid_id == bid.id:
            return self.awarded(award)
        if award is not None:
            return self.not_awarded(award, decision)
        if decision is not None and decision.outcome == DISQUALIFIED:
            return self.make(
                DISQUALIFIED_CODE,
                _("Disqualified"),
                _("Decided ${when}: ${reason}", mapping=self._decided(decision)),
                steps=[
                    self.step(
                        _(
                            "Nothing to do now. Once the tender is awarded you may complain "
                            "against the award during its standstill period."
                        )
                    )
                ],
            )
        if decision is not None and decision.outcome == QUALIFIED:
            return self.make(
                QUALIFIED_CODE,
                _("Qualified"),
                _("Decided ${when}: ${reason}", mapping=self._decided(decision)),
                steps=[self.step(_("Nothing to do now: the buyer decides the award next."))],
            )
        if tender.status == state.UNSUCCESSFUL:
            return self.make(
                UNSUCCESSFUL,
                _("The tender ended without an award"),
                self.cause(state.UNSUCCESSFUL),
                steps=[self.step(_("Nothing more to do: a bid security held is given back."))],
            )
        if tender.status == state.AUCTION and tender.auction is not None:
            auction = tender.auction
            return self.make(
                IN_AUCTION,
                _("In the electronic auction"),
                _(
                    "The auction runs in ${rounds} rounds from ${start} until ${end} at the "
                    "latest.",
                    mapping={
                        "rounds": auction.rounds,
                        "start": self.when(auction.starts_at),
                        "end": self.when(auction.ends_at),
                    },
                ),
                steps=[
                    self.step(
                        _(
                            "Take part in the auction: in each round, lower your price in your "
                            "time slot or keep it."
                        ),
                        "tender_auction",
                        _("Go to the auction"),
                    )
                ],
            )
        annulled = self.annulled()
        return self.make(
            UNDER_EVALUATION,
            _("Under evaluation"),
            (
                _(
                    "Your earlier qualification was annulled ${when}: ${reason}",
                    mapping={
                        "when": self.when(annulled.annulled_at),
                        "reason": annulled.annulled_reason or "",
                    },
                )
                if annulled is not None
                else ""
            ),
            steps=[
                self.step(
                    _(
                        "Nothing to do now: the buyer examines the bids in the order of their "
                        "ranking. This page shows the decision once it is made."
                    )
                )
            ],
        )

    def _decided(self, decision: QualificationDecision) -> dict:
        return {"when": self.when(decision.decided_at), "reason": decision.reason}

    def awarded(self, award) -> Standing:
        value = self.money(award.value_minor, award.currency)
        decided = _(
            "Awarded ${when} for ${value}.",
            mapping={"when": self.when(award.decided_at), "value": value},
        )
        if self.tender.status == state.CONTRACTING:
            return self.make(
                AWARDED,
                _("Awarded to you"),
                decided,
                _("The standstill period has ended."),
                steps=[
                    self.step(
                        _(
                            "Sign the contract with the buyer. Refusing to sign forfeits your "
                            "bid security."
                        )
                    )
                ],
            )
        return self.make(
            AWARDED,
            _("Awarded to you"),
            decided,
            _(
                "The standstill period runs until ${when}: until then the other bidders may "
                "complain against the award.",
                mapping={"when": self.when(award.standstill_until)},
            ),
            steps=[
                self.step(
                    _(
                        "Wait for the standstill period to end; the buyer then asks you to sign "
                        "the contract."
                    )
                )
            ],
        )

    def not_awarded(self, award, decision) -> Standing:
        lines = [
            _(
                "The tender was awarded ${when} to ${organisation} for ${value}.",
                mapping={
                    "when": self.when(award.decided_at),
                    "organisation": award.bid.organisation.name,
                    "value": self.money(award.value_minor, award.currency),
                },
            )
        ]
        if decision is not None and decision.outcome == DISQUALIFIED:
            lines.append(
                _("Your bid was disqualified: ${reason}", mapping={"reason": decision.reason})
            )
        mine = list(
            self.dbsession.scalars(
                select(Complaint).where(
                    Complaint.bid_id == self.bid.id, Complaint.award_id == award.id
                )
            )
        )
        steps = []
        awaiting = [c for c in mine if c.status == COMPLAINT_AWAITING_PAYMENT]
        if awaiting:
            steps.append(
                self.step(
                    _(
                        "Pay your complaint's fee before ${when}, or the complaint lapses.",
                        mapping={"when": self.when(award.standstill_until)},
                    ),
                    "bills",
                    _("Your bills"),
                    parts={},
                )
            )
        elif any(c.status in OPEN_COMPLAINTS for c in mine):
            steps.append(self.step(_("Nothing to do now: a reviewer decides on your complaint.")))
        elif self.tender.status == state.STANDSTILL and self.now < award.standstill_until:
            steps.append(
                self.step(
                    _(
                        "If you disagree with the award, you may file a complaint until "
                        "${when}. A complaint fee is billed to your organisation and must be "
                        "paid before the complaint is registered.",
                        mapping={"when": self.when(award.standstill_until)},
                    ),
                    "tender_complaint_new",
                    _("File a complaint"),
                )
            )
        else:
            steps.append(self.step(_("Nothing more to do on this tender.")))
        if decision is not None and decision.outcome == DISQUALIFIED:
            return self.make(DISQUALIFIED_CODE, _("Disqualified, not awarded"), *lines, steps=steps)
        return self.make(NOT_AWARDED, _("Not awarded"), *lines, steps=steps)
