"""How a national identifier is masked on clerks' pages."""

import pytest

from portal.identity.pii import MASK, masked


@pytest.mark.parametrize(
    ("national_id", "shown"),
    [
        ("19800101-1234", MASK + "1234"),
        ("1980010112345678", MASK + "5678"),
        ("12345678", MASK),  # too short: four shown would be half of it
        ("1234", MASK),
        (None, None),
        ("", ""),
    ],
)
def test_only_the_last_four_characters_of_a_long_enough_identifier_are_shown(national_id, shown):
    assert masked(national_id) == shown


def test_the_mask_does_not_tell_how_long_the_identifier_is():
    assert len(masked("19800101-1234")) == len(masked("1980010112345678"))
