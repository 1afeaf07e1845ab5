"""The auction's small rules: labels, the minimum step (an amount, or a percentage rounded up
to the minor unit), percentages typed by the buyer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.procurement.auction import label, minimum_step, step_text
from portal.procurement.drafting import percentage_points
from portal.procurement.models import Tender


@pytest.mark.parametrize(
    ("position", "expected"), [(0, "A"), (2, "C"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ")]
)
def test_labels(position, expected):
    assert label(position) == expected


def test_the_minimum_step_is_the_amount_or_the_share_rounded_up():
    amount = Tender(currency="EUR", auction_step_minor=500_00)
    assert minimum_step(amount, 190_000_00).minor == 500_00
    share = Tender(currency="EUR", auction_step_basis_points=50)
    assert minimum_step(share, 176_950_00).minor == 884_75
    assert minimum_step(share, 176_950_01).minor == 884_76
    assert minimum_step(share, 1).minor == 1


@pytest.mark.parametrize(
    ("typed", "points"),
    [
        ("0.5", 50),
        ("0,5", 50),
        ("10", 1000),
        ("0.01", 1),
        ("1 %", 100),
        ("0.005", None),
        ("0", None),
        ("10.01", None),
        ("-1", None),
        ("inf", None),
        ("", None),
        ("abc", None),
    ],
)
def test_percentages_typed_by_the_buyer(typed, points):
    assert percentage_points(typed) == points


def test_a_step_in_percent_is_printed_exactly_in_the_reader_language():
    steps = [
        SimpleNamespace(auction_step_minor=None, auction_step_basis_points=points)
        for points in (50, 100, 1000, 1, 125)
    ]
    assert [step_text(step, "en") for step in steps] == ["0.5%", "1%", "10%", "0.01%", "1.25%"]
    assert [step_text(step, "sl") for step in steps] == [
        "0,5\xa0%",
        "1\xa0%",
        "10\xa0%",
        "0,01\xa0%",
        "1,25\xa0%",
    ]
