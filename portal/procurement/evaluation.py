"""The evaluation of an opened tender's valid bids: the committee's quality scores and the
ranking the buyer qualifies bids in.

Lowest price ranks by price. Best price-quality gives each bid a price score, the lowest
price ÷ the bid's price × the price's weight, plus the committee's points on each quality
criterion (0 to the criterion's weight). Every figure is a :class:`~decimal.Decimal` rounded
half up to two places, and the ranking compares the rounded figures the page shows, so that
anyone can redo the sums from the page. Equal bids rank by earlier submission.

Scores may change until the buyer records the first qualification decision: from then on the
ranking the decisions were taken against stays as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import exists, select

from portal.i18n import _
from portal.procurement import state
from portal.procurement.models import (
    BEST_VALUE,
    QualificationDecision,
    QualityScore,
    Tender,
    TenderCriterion,
)
from portal.procurement.prices import ValidBid, valid_bids
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

#: every score and sum is kept to two decimal places (the QualityScore column's scale)
CENTS = Decimal("0.01")


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def price_score(lowest_minor: int, price_minor: int, weight: int) -> Decimal:
    """The lowest price ÷ this price × the price's weight, to two places: the lowest bid gets
    the whole weight, a bid twice as dear half of it."""
    return rounded(Decimal(lowest_minor) / Decimal(price_minor) * weight)


@dataclass(frozen=True)
class RankedBid:
    valid: ValidBid
    #: 1 for the best
    rank: int
    #: best price-quality only (None for lowest price)
    price_score: Decimal | None
    #: criterion id -> points (None: not scored yet), best price-quality only
    points: dict[int, Decimal | None]
    #: price score plus the points; None while a point is missing or for lowest price
    total: Decimal | None

    @property
    def bid(self):
        return self.valid.bid


@dataclass(frozen=True)
class Ranking:
    best_value: bool
    price_criterion: TenderCriterion | None
    quality_criteria: list[TenderCriterion]
    rows: list[RankedBid]
    lowest_minor: int | None

    @property
    def complete(self) -> bool:
        """Has every bid its points on every quality criterion (always, for lowest price)?"""
        return not self.best_value or all(row.total is not None for row in self.rows)


def price_criterion(tender: Tender) -> TenderCriterion | None:
    return next((c for c in tender.criteria if c.is_price), None)


def quality_criteria(tender: Tender) -> list[TenderCriterion]:
    return sorted((c for c in tender.criteria if not c.is_price), key=lambda c: c.position)


def is_best_value(tender: Tender) -> bool:
    return tender.award_criterion == BEST_VALUE and price_criterion(tender) is not None


def scores_of(dbsession, tender: Tender) -> dict[tuple[int, int], QualityScore]:
    """(bid id, criterion id) -> the recorded score."""
    return {
        (score.bid_id, score.criterion_id): score
        for score in dbsession.scalars(
            select(QualityScore)
            .join(TenderCriterion, QualityScore.criterion_id == TenderCriterion.id)
            .where(TenderCriterion.tender_id == tender.id)
        )
    }


def ranking(dbsession, tender: Tender) -> Ranking:
    """The tender's valid bids, best first, with the figures that rank them."""
    best_value = is_best_value(tender)
    scores = scores_of(dbsession, tender) if best_value else {}
    return rank(
        valid_bids(dbsession, tender),
        price=price_criterion(tender) if best_value else None,
        criteria=quality_criteria(tender) if best_value else [],
        points={key: score.points for key, score in scores.items()},
    )


def rank(
    bids: list[ValidBid],
    *,
    price: TenderCriterion | None,
    criteria: list[TenderCriterion],
    points: dict[tuple[int, int], Decimal],
) -> Ranking:
    """Rank ``bids`` (in submission order): by price when ``price`` (the price's criterion)
    is None, else by best price-quality with ``points`` ((bid id, criterion id) -> points)."""
    lowest = min((v.price.minor for v in bids), default=None)
    unranked: list[tuple[ValidBid, Decimal | None, dict[int, Decimal | None], Decimal | None]] = []
    for valid in bids:
        if price is None or lowest is None:
            unranked.append((valid, None, {}, None))
            continue
        by_price = price_score(lowest, valid.price.minor, price.weight)
        given = {c.id: points.get((valid.bid.id, c.id)) for c in criteria}
        known = [value for value in given.values() if value is not None]
        total = rounded(by_price + sum(known, Decimal(0))) if len(known) == len(given) else None
        unranked.append((valid, by_price, given, total))

    def key(entry):
        valid, _by_price, _given, total = entry
        if price is not None:
            # unscored bids last, while the committee is still scoring
            return (total is None, -(total or Decimal(0)))
        return (False, Decimal(valid.price.minor))

    # the bids come in submission order and sorted() is stable: equal bids keep it
    ordered = sorted(unranked, key=key)
    return Ranking(
        best_value=price is not None,
        price_criterion=price,
        quality_criteria=criteria,
        rows=[
            RankedBid(valid, position, by_price, given, total)
            for position, (valid, by_price, given, total) in enumerate(ordered, start=1)
        ],
        lowest_minor=lowest,
    )


def read_points(text: str, criterion: TenderCriterion) -> Decimal | None:
    """Points typed for ``criterion``: empty for not scored, else a number from 0 to the
    criterion's weight with at most two decimals (a decimal comma is read too)."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite() or value < 0 or value > criterion.weight:
        raise ValueError("out of range")
    if value != value.quantize(CENTS):
        raise ValueError("too many decimals")
    return value.quantize(CENTS)


def score_field(bid_public_id: str, criterion: TenderCriterion) -> str:
    return f"score-{bid_public_id}-{criterion.id}"


def decisions_taken(dbsession, tender: Tender) -> bool:
    """Has the buyer begun to qualify the bids? An annulled decision counts: an upheld
    complaint sends the qualification back, not the scoring, so the ranking it was about
    stays as the committee scored it."""
    return bool(
        dbsession.scalar(select(exists().where(QualificationDecision.tender_id == tender.id)))
    )


def check_scoring_open(dbsession, tender: Tender) -> None:
    if tender.status != state.EVALUATION or not is_best_value(tender):
        raise Refusal(CONFLICT, _("This tender's bids are not being scored now."), about=tender)
    if decisions_taken(dbsession, tender):
        raise Refusal(
            CONFLICT,
            _("The scores are final: the buyer has begun to qualify the bids."),
            about=tender,
        )


def record_scores(dbsession, tender: Tender, posted, *, now: dt.datetime, actor) -> int:
    """Record the score sheet ``posted`` (a field per bid and quality criterion, see
    :func:`score_field`; an empty field is a score not given). Every field is checked before
    anything is written; returns how many scores changed."""
    dbsession.refresh(tender, with_for_update=True)
    check_scoring_open(dbsession, tender)
    criteria = quality_criteria(tender)
    wanted: dict[tuple[int, int], Decimal | None] = {}
    errors = []
    for valid in valid_bids(dbsession, tender):
        for criterion in criteria:
            name = score_field(valid.bid.public_id, criterion)
            text = posted.get(name, "")
            try:
                wanted[(valid.bid.id, criterion.id)] = read_points(
                    text if isinstance(text, str) else "", criterion
                )
            except ValueError:
                errors.append(
                    FieldError(
                        name,
                        _(
                            "Give ${organisation} from 0 to ${weight} points for "
                            "${criterion}, with at most two decimals.",
                            mapping={
                                "organisation": valid.bid.organisation.name,
                                "weight": criterion.weight,
                                "criterion": criterion.name,
                            },
                        ),
                    )
                )
    if errors:
        raise Refusal(INVALID, _("Some scores need fixing."), errors=errors)
    recorded = scores_of(dbsession, tender)
    changed = 0
    for (bid_id, criterion_id), points in wanted.items():
        score = recorded.get((bid_id, criterion_id))
        if points is None:
            if score is not None:
                dbsession.delete(score)
                changed += 1
        elif score is None:
            dbsession.add(
                QualityScore(
                    bid_id=bid_id,
                    criterion_id=criterion_id,
                    points=points,
                    scored_at=now,
                    scored_by_id=actor.id,
                )
            )
            changed += 1
        elif score.points != points:
            score.points, score.scored_at, score.scored_by_id = points, now, actor.id
            changed += 1
    dbsession.flush()
    return changed
