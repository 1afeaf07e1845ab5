"""The two documents of a sealed-bid tender, as kinds of document: the bidder's submission
receipt and the committee's opening protocol.

Both go through the one documents pipeline (number, verification code and QR code, PDF/A-3b
with the facts attached as JSON, the portal's signature, ``/verify``). Every time on them is
printed twice, in the portal's timezone (named) and in UTC, both from the one stored UTC
instant and to the second, so the two can always be checked against each other. The receipt
states the SHA-256 of the sealed bid in full: it is what the opening checks the bid against.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pyramid.i18n import TranslationString

from portal.clock import clock
from portal.documents.kinds import DocumentKind
from portal.documents.models import Document
from portal.i18n import _, document_localizer, pgettext
from portal.localized import localized
from portal.money import Money
from portal.procurement import state
from portal.procurement.models import Bid, BidReceipt, BidVersion, OpeningProtocol, Tender

#: the times on the documents, day first and to the second, as each document language
#: writes a date (CLDR's long date; English's with the day first) and a 24-hour time
_PATTERNS = {
    "en": "d MMMM y, HH:mm:ss",
    "sl": "d. MMMM y, HH:mm:ss",
    "pl": "d MMMM y, HH:mm:ss",
    "fr": "d MMMM y, HH:mm:ss",
    "zh_Hans": "y年M月d日 HH:mm:ss",
}

#: a bid's line in the opening protocol
OPENED = "opened"
NOT_ACCEPTED = "not_accepted"
UNCONFIRMED = "unconfirmed"
WITHDRAWN = "withdrawn"
BID_STATUS_LABELS = {
    OPENED: pgettext("bid state", "Opened"),
    NOT_ACCEPTED: _("Sealed bid does not match its receipt — not accepted"),
    UNCONFIRMED: _("Opened; not confirmed after the amendment"),
    WITHDRAWN: pgettext("bid state", "Withdrawn"),
}


def moment(when: dt.datetime, timezone: ZoneInfo, locale: str) -> dict:
    """One instant as the documents print it: in the portal's timezone (with its name, the
    zone's abbreviation and offset) and in UTC, both to the second."""
    when = when.astimezone(dt.UTC).replace(microsecond=0)
    local = when.astimezone(timezone)
    offset = local.strftime("%z")
    pattern = _PATTERNS.get(locale, _PATTERNS["en"])
    wall = f"{format_datetime(local, pattern, tzinfo=timezone, locale=locale)} {local.tzname()}"
    return {
        "utc": when.isoformat(),
        "local": local.isoformat(),
        "timezone": timezone.key,
        "local_short": wall,
        "local_text": f"{wall} (UTC{offset[:3]}:{offset[3:]})",
        "utc_text": f"{format_datetime(when, pattern, tzinfo=dt.UTC, locale=locale)} UTC",
    }


def optional_moment(when: dt.datetime | None, timezone: ZoneInfo, locale: str) -> dict | None:
    return None if when is None else moment(when, timezone, locale)


def hash_lines(sha256: str) -> list[str]:
    """A SHA-256 in hex as two lines of four groups of eight, to read aloud and compare."""
    groups = [sha256[i : i + 8] for i in range(0, len(sha256), 8)]
    return [" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4)]


def short_hash(sha256: str) -> str:
    """The first sixteen hex digits, enough to tell bids apart in a table."""
    return f"{sha256[:8]} {sha256[8:16]}…"


def receipt_version(document: Document) -> BidVersion:
    """The sealed bid version a receipt is for (set when it is issued, never changed)."""
    version = document.bid_version if isinstance(document, BidReceipt) else None
    if version is None:
        raise ValueError(f"document {document.number} is not a receipt of a bid version")
    return version


def protocol_tender(document: Document) -> Tender:
    """The tender an opening protocol records (set when it is issued, never changed)."""
    tender = document.tender if isinstance(document, OpeningProtocol) else None
    if tender is None:
        raise ValueError(f"document {document.number} is not the protocol of a tender")
    return tender


class ProcurementKind(DocumentKind):
    """What both kinds share: the portal's timezone, for the times ``/verify`` shows."""

    def __init__(self, timezone: ZoneInfo):
        self.timezone = timezone

    def context(self, document: Document, issuer, dbsession) -> dict:
        """The time of issue printed like every other time on these documents."""
        return {
            "issued_moment": moment(document.issued_at, self.timezone, document.locale),
            "timezone": self.timezone.key,
        }

    def times(
        self,
        document: Document,
        local_label: TranslationString,
        utc_label: TranslationString,
        when: dt.datetime,
    ) -> list[tuple[TranslationString, str]]:
        """``when`` as two facts for ``/verify``, in the portal's timezone and in UTC, as
        the document prints it (in its language)."""
        printed = moment(when, self.timezone, document.locale)
        local_label = _(local_label, mapping={"timezone": self.timezone.key})
        return [(local_label, printed["local_text"]), (utc_label, printed["utc_text"])]


def _tender(tender: Tender, locale: str) -> dict:
    return {
        "reference": tender.reference,
        "title": tender.title,
        "buyer": localized(tender.department, "name", locale),
    }


class BidReceiptKind(ProcurementKind):
    """The bidder's proof that the portal received their sealed bid, when, and which bytes."""

    model = BidReceipt
    series = "BR"
    title = _("Bid submission receipt")
    template = "documents/bid_receipt.jinja2"
    data_name = "bid-receipt.json"
    mail = _(
        "Dear ${name},\n\nattached is the receipt ${number} of the bid you submitted.\n"
        "Anyone can check it at ${url}\n"
    )

    def data(self, document: Document, issuer) -> dict:
        version = receipt_version(document)
        bid = version.bid
        tender = bid.tender
        timezone, locale = issuer.timezone, document.locale
        return {
            "authority": issuer.authority(locale),
            "tender": _tender(tender, locale),
            "organisation": {
                "name": bid.organisation.name,
                "registration_number": bid.organisation.registration_number,
            },
            "submitted_by": version.submitted_by.display_name,
            "received": moment(version.submitted_at, timezone, locale),
            "bid_reference": bid.public_id,
            "bid_version": version.number,
            "replaces_version": replaced_version(version),
            "sealed_sha256": version.sha256,
            "opening": optional_moment(tender.opening_at, timezone, locale),
        }

    def context(self, document: Document, issuer, dbsession) -> dict:
        return dict(
            super().context(document, issuer, dbsession),
            sha256_lines=hash_lines(receipt_version(document).sha256),
        )

    def verification(self, document: Document) -> dict:
        version = receipt_version(document)
        bid = version.bid
        return {
            "status": "valid",
            "facts": [
                (_("Tender"), f"{bid.tender.reference} · {bid.tender.title}"),
                (_("Organisation"), bid.organisation.name),
                *self.times(
                    document, _("Received (${timezone})"), _("Received (UTC)"), version.submitted_at
                ),
                (_("Bid version"), str(version.number)),
                (_("SHA-256 of the sealed bid"), " ".join(hash_lines(version.sha256))),
            ],
        }


def replaced_version(version: BidVersion) -> int | None:
    """The number of the bid's version this one replaced: the one before it, unless the bid
    had been withdrawn in between (then this one replaces nothing)."""
    earlier = [v for v in version.bid.versions if v.number < version.number]
    if not earlier:
        return None
    previous = max(earlier, key=lambda v: v.number)
    return None if previous.status == "withdrawn" else previous.number


class OpeningProtocolKind(ProcurementKind):
    """The committee's signed record of an opening, public at ``/verify``: every bid received
    with its price as opened, its time of receipt, its version and the hash it was checked
    against, and what became of it. Prices are listed, never added up."""

    model = OpeningProtocol
    series = "OP"
    title = _("Opening protocol")
    template = "documents/opening_protocol.jinja2"
    data_name = "opening-protocol.json"

    def data(self, document: Document, issuer) -> dict:
        tender = protocol_tender(document)
        timezone, locale = issuer.timezone, document.locale
        translate = document_localizer(locale).translate
        bids = [
            bid_line(position, bid, timezone, locale, translate)
            for position, bid in enumerate(listed_bids(tender), start=1)
        ]
        counts = {status: sum(b["status"] == status for b in bids) for status in BID_STATUS_LABELS}
        opener, opened_at = who_opened(tender, document)
        return {
            "authority": {"name": self.authority(document, issuer), "address": ""},
            "signed_by": issuer.authority(locale)["name"],
            "tender": dict(
                _tender(tender, locale),
                deadline=optional_moment(tender.bids_until, timezone, locale),
                opening_scheduled=optional_moment(tender.opening_at, timezone, locale),
                estimated_value=tender.estimated_value.format(locale),
                estimated_value_minor=tender.estimated_value_minor,
                currency=tender.currency,
            ),
            "committee": {
                "members": [seat.member.display_name for seat in tender.committee],
                "threshold": tender.committee_threshold,
                "size": len(tender.committee),
                "completed_by": opener,
                "opened": moment(opened_at, timezone, locale),
            },
            "bids": bids,
            "counts": dict(counts, total=len(bids)),
        }

    def context(self, document: Document, issuer, dbsession) -> dict:
        return dict(super().context(document, issuer, dbsession), hash_lines=hash_lines)

    def authority(self, document: Document, issuer, locale: str | None = None) -> str:
        """The buying department, whose committee opened the bids; the portal signs for it."""
        return localized(protocol_tender(document).department, "name", locale or document.locale)

    def verification(self, document: Document) -> dict:
        tender = protocol_tender(document)
        _opener, opened_at = who_opened(tender, document)
        return {
            "status": "valid",
            "facts": [
                (_("Tender"), f"{tender.reference} · {tender.title}"),
                *self.times(document, _("Opened (${timezone})"), _("Opened (UTC)"), opened_at),
                (_("Bids listed"), str(len(listed_bids(tender)))),
            ],
        }


def bid_line(position: int, bid: Bid, timezone: ZoneInfo, locale: str, translate) -> dict:
    """One bid as the protocol lists it: a withdrawn bid without its price (it was never
    opened), a bid that did not open as sealed without one either (what it would say is not
    what was submitted), a bid not confirmed after an amendment with its price and the flag.
    The protocol is public: the answers to the quality criteria, which the committee weighs,
    stay on the committee's and the buyers' pages, like the bids' documents."""
    version = current_version(bid)
    if bid.status == "withdrawn":
        status = WITHDRAWN
    elif version.opening_fault:
        status = NOT_ACCEPTED
    elif bid.needs_confirmation:
        status = UNCONFIRMED
    else:
        status = OPENED
    price = None
    if status in (OPENED, UNCONFIRMED) and version.opened_price_minor is not None:
        price = Money(version.opened_price_minor, bid.tender.currency)
    return {
        "position": position,
        "organisation": bid.organisation.name,
        "registration_number": bid.organisation.registration_number,
        "price": price.format(locale) if price else None,
        "price_minor": price.minor if price else None,
        "received": moment(version.submitted_at, timezone, locale),
        "version": version.number,
        "sha256": version.sha256,
        "sha256_short": short_hash(version.sha256),
        "status": status,
        "status_label": translate(BID_STATUS_LABELS[status]),
        "fault": version.opening_fault if status == NOT_ACCEPTED else None,
        "withdrawn": optional_moment(bid.withdrawn_at, timezone, locale),
    }


def listed_bids(tender: Tender) -> list[Bid]:
    """The bids a protocol lists: every one ever submitted, in the order they were started;
    drafts never submitted are no bids."""
    return [bid for bid in tender.bids if bid.versions]


def current_version(bid: Bid) -> BidVersion:
    """The version the opening opened (or would have): the submitted one, else the last."""
    submitted = [v for v in bid.versions if v.status == "submitted"]
    return submitted[-1] if submitted else bid.versions[-1]


def who_opened(tender: Tender, protocol: Document) -> tuple[str, dt.datetime]:
    """Who completed the opening and when: the recorded transition to "opened" (its actor
    unlocked the last share needed), else the protocol's owner at the tender's opening time.
    The shares unlocked before it are erased at the opening, and with them who held them."""
    for transition in reversed(tender.transitions):
        if transition.to_status == state.OPENED and transition.actor is not None:
            return transition.actor.display_name, transition.at
    # an opening protocol is always issued to the person who opened (only an organisation's
    # bank-transfer receipt has no person)
    owner = protocol.owner.display_name if protocol.owner is not None else ""
    return owner, tender.opened_at or protocol.issued_at


def includeme(config) -> None:
    timezone = clock(config.registry).timezone
    config.add_document_kind(BidReceiptKind(timezone))
    config.add_document_kind(OpeningProtocolKind(timezone))
