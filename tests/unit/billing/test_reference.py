import pytest

from portal.billing.reference import creditor_reference, is_valid_reference, printed


def test_known_example_from_the_standard():
    assert creditor_reference("539007547034") == "RF18539007547034"
    assert is_valid_reference("RF18 5390 0754 7034")


def test_a_typing_mistake_is_caught():
    reference = creditor_reference("P000001234")
    assert is_valid_reference(reference)
    wrong = reference[:-1] + ("5" if reference[-1] != "5" else "6")
    assert not is_valid_reference(wrong)
    assert not is_valid_reference("RF00")


@pytest.mark.parametrize("body", ["", "A" * 22, "ab-c"])
def test_bad_bodies_are_refused(body):
    with pytest.raises(ValueError):
        creditor_reference(body)


def test_printed_in_groups_of_four():
    assert printed("RF18539007547034") == "RF18 5390 0754 7034"
