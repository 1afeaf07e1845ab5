"""The sealed bid's content format round-trips, and anything else is refused, not guessed at."""

import pytest

from portal.money import Money
from portal.procurement.bid_content import (
    BidContent,
    BidDocument,
    UnreadableContent,
    decode,
    encode,
)


def test_content_round_trips_with_its_documents():
    content = BidContent(
        price=Money(123_456_78, "EUR"),
        answers={"1": "Three years, parts and labour"},
        documents=(BidDocument("offer.pdf", "application/pdf", b"%PDF-1.7 offer"),),
    )
    assert decode(encode(content)) == content


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b"[]",
        b'{"format": 2}',
        b'{"format": 1, "price_minor": "x", "currency": "EUR", "answers": {}, "documents": []}',
        b'{"format": 1, "price_minor": 1, "currency": "EUR", "answers": {}, "documents": '
        b'[{"filename": "a", "media_type": "b", "sha256": "00", "content": "AA=="}]}',
    ],
)
def test_anything_else_is_unreadable(raw):
    with pytest.raises(UnreadableContent):
        decode(raw)
