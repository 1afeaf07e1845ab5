"""The contract form: an amount above zero typed as buyers type amounts, the day it was signed
between the award's local day and today, the signed document; every bad field named at once."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from portal.procurement.contract import read_contract, read_refusal_reason
from portal.refusals import Refusal

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
TENDER = SimpleNamespace(currency="EUR")
#: awarded at 23:30 UTC on 1 March: already 2 March in Ljubljana
AWARD = SimpleNamespace(decided_at=dt.datetime(2027, 3, 1, 23, 30, tzinfo=dt.UTC))
TODAY = dt.date(2027, 3, 20)


def posted(value="176,950.00", day=("20", "3", "2027"), document=PDF) -> dict:
    post = {
        "value": value,
        "signed_on-day": day[0],
        "signed_on-month": day[1],
        "signed_on-year": day[2],
    }
    if document is not None:
        post["document"] = SimpleNamespace(file=io.BytesIO(document), filename="signed.pdf")
    return post


def read(post):
    return read_contract(post, TENDER, AWARD, settings={}, today=TODAY, timezone=LJUBLJANA)


@pytest.mark.parametrize(
    ("typed", "minor"), [("176,950.00", 176_950_00), ("176950", 176_950_00), ("0,50", 50)]
)
def test_a_contract_is_read(typed, minor):
    signed = read(posted(value=typed))
    assert signed.value_minor == minor
    assert signed.signed_on == TODAY
    assert signed.document.media_type == "application/pdf"
    assert signed.document.filename == "signed.pdf"


def test_signed_on_the_awards_local_day_is_fine_the_day_before_is_not():
    assert read(posted(day=("2", "3", "2027"))).signed_on == dt.date(2027, 3, 2)
    with pytest.raises(Refusal) as refused:
        read(posted(day=("1", "3", "2027")))
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("signed_on", "The day it was signed cannot be before the award.")
    ]


def test_every_bad_field_is_named_at_once():
    with pytest.raises(Refusal) as refused:
        read(posted(value="-5", day=("31", "2", "2027"), document=None))
    assert [e.field for e in refused.value.errors] == ["value", "signed_on", "document"]
    assert refused.value.kind == "invalid"


@pytest.mark.parametrize("typed", ["", "lots", "1.2.3", "0", "0.001"])
def test_a_value_that_is_no_amount_above_zero_is_refused(typed):
    with pytest.raises(Refusal) as refused:
        read(posted(value=typed))
    assert [e.field for e in refused.value.errors] == ["value"]


def test_a_day_after_today_is_refused():
    with pytest.raises(Refusal) as refused:
        read(posted(day=("21", "3", "2027")))
    assert [e.message for e in refused.value.errors] == [
        "The day it was signed cannot be in the future."
    ]


def test_a_refusal_needs_a_reason_of_reasonable_length():
    assert read_refusal_reason({"refusal_reason": "  Would not sign.  "}) == "Would not sign."
    for reason in ("", "   ", "x" * 2001):
        with pytest.raises(Refusal):
            read_refusal_reason({"refusal_reason": reason})
