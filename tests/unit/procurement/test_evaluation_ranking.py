"""The ranking's arithmetic: lowest price, and best price-quality's price score plus points,
in Decimal rounded half up to two places, ties going to the earlier submission."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.money import Money
from portal.procurement.evaluation import price_score, rank, read_points
from portal.procurement.models import Bid, BidVersion, TenderCriterion
from portal.procurement.prices import ValidBid

PRICE = TenderCriterion(id=1, position=1, is_price=True, name="Price", weight=60)
DELIVERY = TenderCriterion(id=2, position=2, is_price=False, name="Delivery time", weight=25)
SERVICE = TenderCriterion(id=3, position=3, is_price=False, name="Service", weight=15)


def bids(*prices: str) -> list[ValidBid]:
    """Valid bids with ids 1, 2, ... at ``prices``, in that (submission) order."""
    made = []
    for number, price in enumerate(prices, start=1):
        money = Money.parse(price, "EUR")
        made.append(ValidBid(Bid(id=number), BidVersion(number=1), money, money))
    return made


def order(ranking) -> list[int]:
    return [row.bid.id for row in ranking.rows]


def test_lowest_price_ranks_by_price_and_ties_by_submission():
    ranking = rank(
        bids("182400.00", "176950.00", "190000.00", "176950.00"), price=None, criteria=[], points={}
    )
    assert order(ranking) == [2, 4, 1, 3]
    assert [row.rank for row in ranking.rows] == [1, 2, 3, 4]
    assert all(row.price_score is None and row.total is None for row in ranking.rows)
    assert ranking.complete and not ranking.best_value


def test_price_score_is_lowest_over_price_times_weight_rounded_half_up():
    assert price_score(17695000, 17695000, 60) == Decimal("60.00")
    # 176950 / 182400 * 60 = 58.2072...
    assert price_score(17695000, 18240000, 60) == Decimal("58.21")
    # 176950 / 190000 * 60 = 55.8789...
    assert price_score(17695000, 19000000, 60) == Decimal("55.88")
    # 1 / 8 * 60 = 7.5 exactly; 1 / 16 * 60 = 3.75; 1/ 400 * 60 = 0.15
    assert price_score(100, 800, 60) == Decimal("7.50")
    assert price_score(100, 1600, 60) == Decimal("3.75")
    # 2 / 3 * 1 = 0.6666... -> 0.67; 1 / 3 = 0.333... -> 0.33; 0.005 rounds up
    assert price_score(200, 300, 1) == Decimal("0.67")
    assert price_score(100, 300, 1) == Decimal("0.33")
    assert price_score(1, 200, 1) == Decimal("0.01")
    assert isinstance(price_score(1, 3, 60), Decimal)


def test_best_price_quality_adds_the_points_to_the_price_score():
    points = {
        (1, 2): Decimal("25"),
        (1, 3): Decimal("10.50"),
        (2, 2): Decimal("15"),
        (2, 3): Decimal("15"),
        (3, 2): Decimal("24.75"),
        (3, 3): Decimal("12"),
    }
    ranking = rank(
        bids("182400.00", "176950.00", "190000.00"),
        price=PRICE,
        criteria=[DELIVERY, SERVICE],
        points=points,
    )
    rows = {row.bid.id: row for row in ranking.rows}
    assert rows[1].price_score == Decimal("58.21")
    assert rows[1].total == Decimal("93.71")  # 58.21 + 25 + 10.50
    assert rows[2].total == Decimal("90.00")  # 60.00 + 15 + 15
    assert rows[3].total == Decimal("92.63")  # 55.88 + 24.75 + 12
    assert order(ranking) == [1, 3, 2]
    assert ranking.complete and ranking.lowest_minor == 17695000


def test_equal_scores_rank_by_earlier_submission():
    # 60 + 0 against 30 + 30: the second, cheaper bid scores the same as the first
    points = {
        (1, 2): Decimal("30"),
        (1, 3): Decimal("0"),
        (2, 2): Decimal("0"),
        (2, 3): Decimal("0"),
    }
    ranking = rank(
        bids("200.00", "100.00"), price=PRICE, criteria=[DELIVERY, SERVICE], points=points
    )
    assert [row.total for row in ranking.rows] == [Decimal("60.00"), Decimal("60.00")]
    assert order(ranking) == [1, 2]


def test_a_bid_not_fully_scored_has_no_total_and_ranks_last():
    points = {(1, 2): Decimal("5"), (2, 2): Decimal("1"), (2, 3): Decimal("1")}
    ranking = rank(
        bids("100.00", "150.00"), price=PRICE, criteria=[DELIVERY, SERVICE], points=points
    )
    assert order(ranking) == [2, 1]
    assert ranking.rows[1].total is None and ranking.rows[1].points == {2: Decimal("5"), 3: None}
    assert not ranking.complete


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("", None),
        (" 25 ", Decimal("25.00")),
        ("0", Decimal("0.00")),
        ("12,5", Decimal("12.50")),
        ("24.99", Decimal("24.99")),
    ],
)
def test_points_typed(typed, read):
    assert read_points(typed, DELIVERY) == read


@pytest.mark.parametrize("typed", ["25.01", "-1", "1.234", "ten", "NaN", "Infinity", "1e3"])
def test_points_out_of_range_or_malformed_are_refused(typed):
    with pytest.raises(ValueError):
        read_points(typed, DELIVERY)
