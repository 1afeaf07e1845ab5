"""The bid submission receipt and the opening protocol: documents like the others (PDF/A-3b
with their facts attached as JSON, signed by the portal, checked at /verify), whose times
agree between the portal's timezone and UTC in summer and in winter time, whose hashes are
printed in full, and whose protocol flags a bid that did not open as sealed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from portal.documents.kinds import document_issuer
from portal.identity.models import Organisation, User
from portal.money import Money
from portal.procurement import state
from portal.procurement.bid_content import BidContent, encode
from portal.procurement.models import Bid, BidReceipt, BidVersion, OpeningProtocol, Tender
from portal.procurement.sealing import seal_bid
from portal.tasks import task_dbsession
from tests import factories
from tests.conftest import sign_in
from tests.functional.receipts.test_receipts import validate
from tests.pdfa import pdfa3b_attachment

UTC = dt.UTC
NAMES = {
    "clerk-clara": ("Clara", "Zupan"),
    "clerk-dan": ("Dan", "Kralj"),
    "clerk-mia": ("Mia", "Kos"),
    "rep-olga": ("Olga", "Marin"),
    "rep-peter": ("Peter", "Vidmar"),
}


def pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def flat(text: str) -> str:
    """The text with its runs of whitespace made single spaces (table cells wrap)."""
    return " ".join(text.split())


def attachment(pdf: bytes, tmp_path, name: str) -> dict:
    folder = tmp_path / name.removesuffix(".json")
    folder.mkdir()
    path = folder / "document.pdf"
    path.write_bytes(pdf)
    return json.loads(pdfa3b_attachment(path, name))


def organisation(session, number: str, name: str, representative: User) -> Organisation:
    found = session.scalar(select(Organisation).where(Organisation.registration_number == number))
    if found is None:
        found = Organisation(registration_number=number, name=name)
        session.add(found)
    if found not in representative.organisations:
        representative.organisations.append(found)
    return found


def person(session, name_id: str) -> User:
    found = factories.user(session, name_id)
    found.given_name, found.family_name = NAMES[name_id]
    found.email = f"{name_id}@example.org"
    return found


def submit(session, tender: Tender, bid: Bid, price_minor: int, at: dt.datetime, by: User):
    """Seal a new version of ``bid`` as submission does, marking the one before replaced."""
    number = len(bid.versions) + 1
    sealed = seal_bid(
        tender.public_key,
        tender.reference,
        bid.public_id,
        number,
        encode(BidContent(Money(price_minor, tender.currency), {})),
    )
    for earlier in bid.versions:
        earlier.status = "replaced"
    version = BidVersion(
        number=number,
        sealed=sealed.blob,
        sha256=sealed.sha256,
        submitted_at=at,
        submitted_by=by,
        tender_version=tender.version,
    )
    bid.versions.append(version)
    bid.status, bid.updated_at = "submitted", at
    session.flush()
    return version


def new_bid(session, tender: Tender, org: Organisation, by: User, at: dt.datetime) -> Bid:
    bid = Bid(tender=tender, organisation=org, created_by=by, created_at=at, updated_at=at)
    session.add(bid)
    session.flush()
    return bid


def receipt_for(session, registry, version: BidVersion, at: dt.datetime) -> int:
    receipt = document_issuer(registry).issue(
        session,
        BidReceipt(bid_version=version, owner_user_id=version.submitted_by_id, locale="en"),
        at,
    )
    return receipt.id


@pytest.fixture
def olga(signed_in):
    """Olga, signed in as a representative of Northwind Supplies."""
    return signed_in("rep-olga")


def issue_receipt(wsgi_app, tender_created: dt.datetime, submitted: list[dt.datetime]):
    """A tender created ``tender_created``; Northwind's bid submitted at each of ``submitted``
    (each a new version); the receipt of the last. Returns the receipt's id."""
    registry = wsgi_app.registry
    with task_dbsession(registry) as session:
        tender = factories.tender(session, now=tender_created)
        olga = session.scalar(select(User).where(User.name_id == "rep-olga"))
        northwind = session.scalar(
            select(Organisation).where(Organisation.registration_number == "NW-100200")
        )
        bid = new_bid(session, tender, northwind, olga, submitted[0])
        for at in submitted:
            version = submit(session, tender, bid, 199_000_00, at, olga)
        receipt_id = receipt_for(session, registry, version, submitted[-1])
    return receipt_id


@pytest.mark.parametrize(
    ("created", "received_utc", "received_local", "opening_local"),
    [
        (
            dt.datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
            dt.datetime(2026, 7, 3, 12, 34, 56, 789000, tzinfo=UTC),
            "3 July 2026, 14:34:56 CEST (UTC+02:00)",
            "11 July 2026, 12:00:00 CEST (UTC+02:00)",
        ),
        (
            dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            dt.datetime(2026, 11, 23, 23, 5, 9, tzinfo=UTC),
            "24 November 2026, 00:05:09 CET (UTC+01:00)",
            "30 November 2026, 12:00:00 CET (UTC+01:00)",
        ),
    ],
    ids=["summer", "winter"],
)
def test_the_receipt_states_tender_bidder_time_and_hash(
    olga,
    wsgi_app,
    dbsession,
    keys_dir,
    tmp_path,
    created,
    received_utc,
    received_local,
    opening_local,
):
    receipt_id = issue_receipt(wsgi_app, created, [received_utc])
    receipt = dbsession.get(BidReceipt, receipt_id)
    version, tender = receipt.bid_version, receipt.bid_version.bid.tender
    assert receipt.number == f"BR-{created.year}-000001"
    utc_text = received_utc.strftime("%-d %B %Y, %H:%M:%S UTC")

    text = flat(pdf_text(receipt.pdf, tmp_path, "receipt"))
    assert f"Bid submission receipt Number: {receipt.number}" in text
    assert f"{tender.reference} Road resurfacing, Main Street" in text
    assert "Buyer Public Procurement Office" in text
    assert "Northwind Supplies Ltd Registration number NW-100200" in text
    assert "Submitted by Olga Marin" in text
    assert f"Received (Europe/Ljubljana) {received_local}" in text
    assert f"Received (UTC) {utc_text}" in text
    assert "Bid version 1 Bid reference" in text and "replaces" not in text
    assert version.sha256 in "".join(text.split())  # in full, in groups of eight
    assert "nobody, the buyer and the portal included, can read it before the opening" in text
    opening_utc = tender.opening_at.strftime("%-d %B %Y, %H:%M:%S UTC")
    assert f"scheduled for {opening_local}, that is {opening_utc}." in text

    data = attachment(receipt.pdf, tmp_path, "bid-receipt.json")
    assert data["number"] == receipt.number
    assert data["tender"] == {
        "reference": tender.reference,
        "title": "Road resurfacing, Main Street",
        "buyer": "Public Procurement Office",
    }
    assert data["organisation"] == {
        "name": "Northwind Supplies Ltd",
        "registration_number": "NW-100200",
    }
    assert data["submitted_by"] == "Olga Marin"
    received = data["received"]
    assert received["utc"] == received_utc.replace(microsecond=0).isoformat()
    assert dt.datetime.fromisoformat(received["local"]) == received_utc.replace(microsecond=0)
    assert received["timezone"] == "Europe/Ljubljana"
    assert (received["local_text"], received["utc_text"]) == (received_local, utc_text)
    assert data["sealed_sha256"] == version.sha256
    assert (data["bid_version"], data["replaces_version"]) == (1, None)
    assert dt.datetime.fromisoformat(data["opening"]["utc"]) == tender.opening_at

    status = validate(receipt.pdf, keys_dir / "signing.crt")
    assert status.intact and status.valid and status.bottom_line


def test_a_replacing_version_says_which_it_replaces_and_the_submitter_gets_it_by_mail(
    olga, wsgi_app, dbsession, keys_dir, tmp_path
):
    first = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    receipt_id = issue_receipt(
        wsgi_app,
        dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        [first, first + dt.timedelta(hours=3)],
    )
    receipt = dbsession.get(BidReceipt, receipt_id)
    text = flat(pdf_text(receipt.pdf, tmp_path, "receipt"))
    assert "Bid version 2 · replaces version 1" in text
    assert attachment(receipt.pdf, tmp_path, "bid-receipt.json")["replaces_version"] == 1

    mails = [
        message_from_bytes(m.read_bytes(), policy=policy.default)
        for m in (keys_dir / "mail").glob("*")
        if receipt.verification_code in m.read_text(errors="ignore")
    ]
    (mail,) = mails
    assert mail["Subject"] == f"Bid submission receipt {receipt.number}"
    assert mail["To"] == "olga.marin@example.org"  # the submitter, as the IdP gave her
    assert "attached is the receipt" in mail.get_body().get_content()
    (pdf,) = list(mail.iter_attachments())
    assert pdf.get_content() == receipt.pdf
    assert receipt.emailed_at is not None


def test_every_representative_of_the_bidder_downloads_the_receipt_and_nobody_else(
    olga, testapp, devidp, wsgi_app, dbsession
):
    receipt_id = issue_receipt(
        wsgi_app,
        dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        [dt.datetime(2026, 12, 1, tzinfo=UTC)],
    )
    receipt = dbsession.get(BidReceipt, receipt_id)
    bid_page = f"/tenders/{receipt.bid_version.bid.tender.reference}/bid"
    path = f"{bid_page}/receipts/{receipt.number}"
    download = olga.get(path)
    assert download.body == receipt.pdf and download.content_type == "application/pdf"
    olga.get(f"{bid_page}/receipts/BR-2026-999999", status=404)  # unknown: the same answer
    sign_in(testapp, devidp, "rep-peter")  # Southgate's representative
    testapp.get(path, status=404)
    with task_dbsession(wsgi_app.registry) as session:  # now Peter represents Northwind too
        peter = session.scalar(select(User).where(User.name_id == "rep-peter"))
        organisation(session, "NW-100200", "Northwind Supplies Ltd", peter)
    assert testapp.get(path).body == receipt.pdf
    testapp.reset()  # signed out
    assert "/saml/login" in testapp.get(path, status=303).location


def test_verify_shows_the_receipts_tender_organisation_time_and_hash(
    olga, testapp, wsgi_app, dbsession
):
    received = dt.datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    receipt_id = issue_receipt(wsgi_app, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC), [received])
    receipt = dbsession.get(BidReceipt, receipt_id)
    testapp.reset()
    shown = testapp.get(f"/verify/{receipt.verification_code}")
    assert "Valid" in shown.text
    facts = summary(shown)
    tender = receipt.bid_version.bid.tender
    assert facts["Document"] == "Bid submission receipt"
    assert facts["Number"] == receipt.number
    assert facts["Tender"] == f"{tender.reference} · Road resurfacing, Main Street"
    assert facts["Organisation"] == "Northwind Supplies Ltd"
    assert facts["Received (Europe/Ljubljana)"] == "1 December 2026, 11:00:05 CET (UTC+01:00)"
    assert facts["Received (UTC)"] == "1 December 2026, 10:00:05 UTC"
    assert facts["SHA-256 of the sealed bid"].replace(" ", "") == receipt.bid_version.sha256
    assert "Olga" not in shown.text  # nothing personal


def summary(page) -> dict[str, str]:
    """The verify page's "what the document must say" as label -> value."""
    rows = page.html.find(id="document").find_all("div")
    return {flat(row.dt.text): flat(row.dd.text) for row in rows}


def opened(wsgi_app) -> int:
    """A tender whose deadline fell just after the clocks changed (29 March 2026), opened by
    Mia (the committee's second share), with the bids as the opening leaves them: Northwind's
    submitted in winter time, replaced in summer time and opened; Southgate's withdrawn;
    Eastbrook's sealed bytes not matching its receipt; Westfield's not confirmed after an
    amendment; and a draft never submitted, which is no bid. Returns the protocol's id."""
    registry = wsgi_app.registry
    created = dt.datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
    day = dt.timedelta(days=1)
    with task_dbsession(registry) as session:
        tender = factories.tender(session, now=created)
        for name_id in NAMES:
            person(session, name_id)
        olga, peter = person(session, "rep-olga"), person(session, "rep-peter")
        org = {
            number: organisation(session, number, name, rep)
            for number, name, rep in [
                ("NW-100200", "Northwind Supplies Ltd", olga),
                ("SG-300400", "Southgate Builders Ltd", peter),
                ("EB-500600", "Eastbrook Paving d.o.o.", olga),
                ("WF-700800", "Westfield Roads Ltd", peter),
                ("DR-000111", "Drafty Works Ltd", peter),
            ]
        }
        northwind = new_bid(session, tender, org["NW-100200"], olga, created + day)
        submit(session, tender, northwind, 199_000_00, at(2026, 3, 27, 9, 15, 1), olga)
        submit(session, tender, northwind, 187_450_50, at(2026, 3, 29, 14, 2, 3), olga)
        southgate = new_bid(session, tender, org["SG-300400"], peter, created + day)
        submit(session, tender, southgate, 210_000_00, created + 2 * day, peter)
        southgate.status, southgate.withdrawn_at = "withdrawn", created + 3 * day
        southgate.versions[-1].status = "withdrawn"
        eastbrook = new_bid(session, tender, org["EB-500600"], olga, created + day)
        submit(session, tender, eastbrook, 150_000_00, created + 4 * day, olga)
        westfield = new_bid(session, tender, org["WF-700800"], peter, created + day)
        submit(session, tender, westfield, 1_234_567_89, created + 5 * day, peter)
        westfield.needs_confirmation = True
        new_bid(session, tender, org["DR-000111"], peter, created + day)

        opening = tender.opening_at + dt.timedelta(minutes=47, seconds=12)
        state.advance(session, tender, tender.questions_until)
        state.advance(session, tender, opening)
        mia = person(session, "clerk-mia")
        state.transition(session, tender, state.OPENED, now=opening, actor=mia, cause="opened")
        tender.opened_at = opening
        northwind.versions[-1].opened_price_minor = 187_450_50
        westfield.versions[-1].opened_price_minor = 1_234_567_89
        eastbrook.versions[-1].opening_fault = "the sealed bid does not match its SHA-256"
        protocol = document_issuer(registry).issue(
            session, OpeningProtocol(tender=tender, owner_user_id=mia.id, locale="en"), opening
        )
        protocol_id = protocol.id
    return protocol_id


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def wraps(phrase: str, text: str) -> bool:
    """Whether ``phrase`` is in ``text`` word by word, in order, as a table cell that wraps
    is read out of a page laid out (interleaved with its neighbours' lines)."""
    words = iter(text.split())
    return all(word in words for word in phrase.split())


def between(text: str, start: str, end: str) -> str:
    begin = text.index(start)
    return text[begin : text.index(end, begin)]


def test_the_opening_protocol_lists_every_bid_with_what_became_of_it(
    wsgi_app, dbsession, keys_dir, tmp_path
):
    protocol = dbsession.get(OpeningProtocol, opened(wsgi_app))
    tender = protocol.tender
    assert protocol.number == "OP-2026-000001"
    versions = {
        bid.organisation.registration_number: bid.versions[-1]
        for bid in tender.bids
        if bid.versions
    }

    text = flat(pdf_text(protocol.pdf, tmp_path, "protocol"))
    assert f"{tender.reference} Road resurfacing, Main Street" in text
    assert "Buyer Public Procurement Office" in text
    assert "Estimated value €250,000.00" in text
    assert (
        "Deadline for bids 30 March 2026, 10:00:00 CEST (UTC+02:00) 30 March 2026, 08:00:00 UTC"
    ) in text
    assert (
        "Opening scheduled 30 March 2026, 12:00:00 CEST (UTC+02:00) 30 March 2026, 10:00:00 UTC"
    ) in text
    assert "Members Clara Zupan, Dan Kralj, Mia Kos" in text
    assert "Shares needed 2 of 3 members" in text
    assert "Opening completed by Mia Kos" in text
    assert "30 March 2026, 12:47:12 CEST (UTC+02:00) 30 March 2026, 10:47:12 UTC" in text

    northwind = between(text, "1 Northwind", "2 Southgate")
    assert "€187,450.50" in northwind and "Opened" in northwind
    assert (
        "29 March 2026, 16:02:03 CEST" in northwind and "29 March 2026, 14:02:03 UTC" in northwind
    )
    assert versions["NW-100200"].sha256[:8] in northwind
    southgate = between(text, "2 Southgate", "3 Eastbrook")
    assert "Withdrawn" in southgate and "€" not in southgate
    eastbrook = between(text, "3 Eastbrook", "4 Westfield")
    assert wraps("Sealed bid does not match its receipt — not accepted", eastbrook)
    assert "€" not in eastbrook
    westfield = between(text, "4 Westfield", "bids listed")
    assert "€1,234,567.89" in westfield
    assert wraps("Opened; not confirmed after the amendment", westfield)
    assert "Drafty" not in text
    assert "€210,000.00" not in text and "€150,000.00" not in text
    assert (
        "4 bids listed: 1 opened, 1 opened but not confirmed after the amendment, "
        "1 not accepted, 1 withdrawn."
    ) in text
    annex = "".join(text[text.index("Annex") :].split())
    assert len(versions) == 4 and all(version.sha256 in annex for version in versions.values())

    status = validate(protocol.pdf, keys_dir / "signing.crt")
    assert status.intact and status.valid and status.bottom_line


def test_the_protocols_attachment_has_the_same_facts_and_they_add_up(wsgi_app, dbsession, tmp_path):
    protocol = dbsession.get(OpeningProtocol, opened(wsgi_app))
    data = attachment(protocol.pdf, tmp_path, "opening-protocol.json")
    assert data["number"] == protocol.number
    assert data["tender"]["estimated_value_minor"] == 250_000_00
    assert data["tender"]["deadline"]["utc"] == "2026-03-30T08:00:00+00:00"
    assert data["tender"]["deadline"]["local"] == "2026-03-30T10:00:00+02:00"
    assert data["committee"]["threshold"] == 2 and data["committee"]["size"] == 3
    assert data["committee"]["completed_by"] == "Mia Kos"
    assert data["committee"]["opened"]["utc"] == "2026-03-30T10:47:12+00:00"
    rows = {row["registration_number"]: row for row in data["bids"]}
    assert [row["position"] for row in data["bids"]] == [1, 2, 3, 4]
    assert {number: (row["status"], row["price_minor"]) for number, row in rows.items()} == {
        "NW-100200": ("opened", 187_450_50),
        "SG-300400": ("withdrawn", None),
        "EB-500600": ("not_accepted", None),
        "WF-700800": ("unconfirmed", 1_234_567_89),
    }
    assert rows["EB-500600"]["fault"] == "the sealed bid does not match its SHA-256"
    assert rows["NW-100200"]["version"] == 2
    assert rows["NW-100200"]["received"]["local"] == "2026-03-29T16:02:03+02:00"
    assert rows["SG-300400"]["received"]["local"] == "2026-03-22T09:00:00+01:00"
    for row in data["bids"]:
        received = row["received"]
        assert dt.datetime.fromisoformat(received["local"]) == dt.datetime.fromisoformat(
            received["utc"]
        )
    stored = {
        bid.organisation.registration_number: bid for bid in protocol.tender.bids if bid.versions
    }
    for number, row in rows.items():
        version = stored[number].versions[-1]
        assert row["sha256"] == version.sha256
        assert row["sha256_short"].startswith(version.sha256[:8])
    counts = data["counts"]
    assert counts["total"] == len(data["bids"]) == 4
    assert (
        sum(counts[status] for status in ("opened", "unconfirmed", "not_accepted", "withdrawn"))
        == 4
    )


def test_verify_shows_the_protocol_to_anyone(wsgi_app, dbsession, testapp):
    protocol = dbsession.get(OpeningProtocol, opened(wsgi_app))
    shown = testapp.get(f"/verify/{protocol.verification_code}")
    assert "Valid" in shown.text
    facts = summary(shown)
    assert facts["Document"] == "Opening protocol"
    assert facts["Number"] == protocol.number
    assert facts["Tender"] == f"{protocol.tender.reference} · Road resurfacing, Main Street"
    assert facts["Opened (Europe/Ljubljana)"] == "30 March 2026, 12:47:12 CEST (UTC+02:00)"
    assert facts["Opened (UTC)"] == "30 March 2026, 10:47:12 UTC"
    assert facts["Bids listed"] == "4"
    assert facts["Issued by"] == "Public Procurement Office"


def test_times_on_either_side_of_the_clock_change_agree_with_utc():
    """The last second of winter time and the first of summer time (29 March 2026, 01:00
    UTC), in both document languages."""
    from zoneinfo import ZoneInfo

    from portal.procurement.documents import moment

    zone = ZoneInfo("Europe/Ljubljana")
    before, after = at(2026, 3, 29, 0, 59, 59), at(2026, 3, 29, 1, 0, 0)
    assert moment(before, zone, "en")["local_text"] == "29 March 2026, 01:59:59 CET (UTC+01:00)"
    assert moment(after, zone, "en")["local_text"] == "29 March 2026, 03:00:00 CEST (UTC+02:00)"
    assert moment(after, zone, "en")["utc_text"] == "29 March 2026, 01:00:00 UTC"
    assert moment(after, zone, "sl")["local_text"] == "29. marec 2026, 03:00:00 CEST (UTC+02:00)"
    for when in (before, after):
        printed = moment(when, zone, "en")
        assert dt.datetime.fromisoformat(printed["local"]) == when
        assert dt.datetime.fromisoformat(printed["utc"]) == when
