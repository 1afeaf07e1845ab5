"""What RF creditor references (ISO 11649) promise, for any body Hypothesis draws: a reference
the portal makes always checks out, however it is spaced or cased; the typing mistakes the
check digits are there for are caught; and any text at all is answered True or False.

The check (ISO 7064 mod 97-10) reads each letter as two digits (A = 10 ... Z = 35), so it is
certain only where a mistake changes those digits in place: a digit typed for another digit,
a letter for another letter, two neighbours of one kind swapped. A letter typed for a digit
lengthens the number and slips through about once in 97 (``RF21YNG5BY1A2ROGUBBB`` with a
``Q`` for the ``5`` checks out), and B1, M2 and X3 read the same swapped (B = 11, M = 22,
X = 33): the standard's limits, not the code's, stated here so that nobody relies on more.

Draws are derandomized and bounded, so every run checks the same cases quickly.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portal.billing.reference import creditor_reference, is_valid_reference, printed

PROPERTIES = settings(max_examples=300, derandomize=True, deadline=None, database=None)
DIGITS = string.digits
LETTERS = string.ascii_uppercase
BODIES = st.text(DIGITS + LETTERS + string.ascii_lowercase, min_size=1, max_size=21)
#: the bodies the portal itself gives its bills (portal.billing.bills.issue_bill)
BILL_BODIES = st.integers(1, 10**9 - 1).map(lambda bill_id: f"P{bill_id:09d}")
#: letters whose two digits are the one digit written twice: swapped with it, the same number
SAME_SWAPPED = {"B1", "1B", "M2", "2M", "X3", "3X"}


def kind(char: str) -> str:
    return DIGITS if char in DIGITS else LETTERS


@PROPERTIES
@given(st.one_of(BODIES, BILL_BODIES))
def test_a_made_reference_checks_out_with_check_digits_from_02_to_98(body):
    reference = creditor_reference(body)
    assert reference.startswith("RF")
    assert reference[4:] == body.upper()
    assert 2 <= int(reference[2:4]) <= 98
    assert is_valid_reference(reference)


@PROPERTIES
@given(st.one_of(BODIES, BILL_BODIES), st.data())
def test_spaces_and_case_do_not_matter(body, data):
    reference = creditor_reference(body)
    assert is_valid_reference(printed(reference))
    assert is_valid_reference(reference.lower())
    size = len(reference)
    spaces = data.draw(st.lists(st.sampled_from(["", " ", "  "]), min_size=size, max_size=size))
    spaced = "".join(space + char for space, char in zip(spaces, reference, strict=True))
    lower = data.draw(st.lists(st.booleans(), min_size=len(spaced), max_size=len(spaced)))
    mixed = "".join(c.lower() if low else c for c, low in zip(spaced, lower, strict=True))
    assert is_valid_reference(f" {mixed} ")


@PROPERTIES
@given(st.one_of(BODIES, BILL_BODIES), st.data())
def test_a_character_mistyped_for_one_of_its_kind_is_caught(body, data):
    reference = creditor_reference(body).upper()
    where = data.draw(st.integers(2, len(reference) - 1))
    wrong = data.draw(
        st.sampled_from(kind(reference[where])).filter(lambda c: c != reference[where])
    )
    assert not is_valid_reference(reference[:where] + wrong + reference[where + 1 :])


@PROPERTIES
@given(st.one_of(BODIES, BILL_BODIES), st.data())
def test_two_neighbours_swapped_are_caught(body, data):
    reference = creditor_reference(body).upper()
    assume(len(reference) > 4)
    where = data.draw(st.integers(2, len(reference) - 2))
    pair = reference[where : where + 2]
    assume(pair[0] != pair[1] and pair not in SAME_SWAPPED)
    assert not is_valid_reference(reference[:where] + pair[::-1] + reference[where + 2 :])


@PROPERTIES
@given(BILL_BODIES, st.data())
def test_a_letter_for_a_digit_of_a_bill_reference_is_caught_unless_the_number_agrees(body, data):
    """The one kind of slip the check can miss, told apart exactly: a bill's reference with a
    letter in place of one of its digits checks out only if the mod-97 sum still comes to 1."""
    reference = creditor_reference(body)
    where = data.draw(st.integers(5, len(reference) - 1))
    letter = data.draw(st.sampled_from(LETTERS))
    wrong = reference[:where] + letter + reference[where + 1 :]
    numeric = int("".join(str(int(char, 36)) for char in wrong[4:] + wrong[:4]))
    assert is_valid_reference(wrong) == (numeric % 97 == 1)


@PROPERTIES
@given(st.one_of(BODIES, BILL_BODIES))
def test_only_the_check_digits_the_body_gets_are_valid(body):
    """Not also the 00 or 01 the bare mod-97 test accepts in place of 97 or 98."""
    reference = creditor_reference(body)
    for check in range(100):
        other = f"RF{check:02d}{reference[4:]}"
        assert is_valid_reference(other) == (other == reference)


@PROPERTIES
@given(st.text(max_size=30))
def test_any_text_is_answered_true_or_false(text):
    answer = is_valid_reference(text)
    assert (
        answer is False
        or creditor_reference(text.replace(" ", "")[4:]) == text.replace(" ", "").upper()
    )


@pytest.mark.parametrize("text", ["RF18539007547034\n", "RF18539007547034\t", "RF18 5390\u00a0"])
def test_a_reference_with_other_whitespace_is_refused_not_an_error(text):
    assert is_valid_reference(text) is False


def test_check_digits_01_in_place_of_98_are_refused():
    assert creditor_reference("54") == "RF9854"
    assert not is_valid_reference("RF0154")


@PROPERTIES
@given(st.text(max_size=25))
def test_a_body_that_is_not_1_to_21_letters_or_digits_is_refused(body):
    upper = body.upper()
    assume(not (upper.isascii() and upper.isalnum() and 1 <= len(upper) <= 21))
    with pytest.raises(ValueError, match="1 to 21 letters or digits"):
        creditor_reference(body)
