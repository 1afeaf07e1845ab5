"""Test cards: the number alone decides how a payment ends, as in a real PSP's test mode.

Only these numbers are accepted, so a real card typed by mistake is refused before anything is kept;
of any card, only its brand and last four digits are ever stored.
"""

import re
from dataclasses import dataclass
from datetime import date

CHALLENGE_CODE = "123456"


@dataclass(frozen=True)
class SandboxCard:
    """A documented test number and the outcome it forces."""

    number: str
    outcome: str
    failure_reason: str | None
    notify: bool
    description: str

    @property
    def display_number(self) -> str:
        return " ".join(self.number[i : i + 4] for i in range(0, 16, 4))


TEST_CARDS = (
    SandboxCard("4242424242424242", "succeeded", None, True, "Payment succeeds."),
    SandboxCard("4000000000000002", "failed", "card_declined", True, "Declined by the issuer."),
    SandboxCard(
        "4000000000009995", "failed", "insufficient_funds", True, "Declined: insufficient funds."
    ),
    SandboxCard(
        "4000000000003220",
        "challenge",
        None,
        True,
        f"3-D Secure challenge: code {CHALLENGE_CODE} passes, any other code fails.",
    ),
    SandboxCard(
        "4000000000000077",
        "succeeded",
        None,
        False,
        "Payment succeeds but no notification is ever sent: only the status API tells.",
    ),
)
_BY_NUMBER = {card.number: card for card in TEST_CARDS}


@dataclass(frozen=True)
class CardEntry:
    """What the payer typed, reduced to what may be kept (brand, last4) and the forced outcome."""

    card: SandboxCard
    brand: str
    last4: str


class CardRejected(Exception):
    """The form cannot be processed; `errors` maps each field to a message for the payer."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def read_card(number: str, expiry: str, cvc: str, name: str, today: date) -> CardEntry:
    """Check the payment form the way a card processor would, without keeping the number."""
    errors = {}
    digits = re.sub(r"[\s-]", "", number or "")
    card = _BY_NUMBER.get(digits)
    if not digits:
        errors["card_number"] = "Enter the card number."
    elif card is None:
        errors["card_number"] = "This sandbox accepts only the test card numbers listed below."
    expiry_error = _expiry_error((expiry or "").strip(), today)
    if expiry_error:
        errors["expiry"] = expiry_error
    if not re.fullmatch(r"\d{3}", (cvc or "").strip()):
        errors["cvc"] = "Enter the 3-digit security code (CVC) from the back of the card."
    name = (name or "").strip()
    if not name:
        errors["cardholder_name"] = "Enter the name shown on the card."
    elif len(name) > 100:
        errors["cardholder_name"] = "The name on the card must be 100 characters or fewer."
    if errors:
        raise CardRejected(errors)
    return CardEntry(card=card, brand="visa", last4=digits[-4:])


def _expiry_error(expiry: str, today: date) -> str | None:
    match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})", expiry)
    if not match:
        return "Enter the expiry date as MM/YY, for example 12/30."
    month, year = int(match[1]), int(match[2])
    if len(match[2]) == 2:
        year += 2000
    if not 1 <= month <= 12:
        return "The expiry month must be between 01 and 12."
    if (year, month) < (today.year, today.month):
        return "This card has expired."
    return None
