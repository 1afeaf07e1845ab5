"""Sealed means unreadable: after two organisations submit, nothing in a full dump of the
database, in SQLite's own files, in the files the portal writes (mail, keys, documents) or in
its logs shows either price, in any way of writing it, or the text of either bid's documents.
Nor does a draft that is saved but not yet submitted: it is kept encrypted under the portal's
key, so the database alone never held it in clear."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import webtest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from portal.procurement.models import BidVersion
from tests.conftest import sign_in
from tests.functional.procurement.bidding import (
    NORTHWIND,
    Bidder,
    bid_of,
    needs_bid_receipts,
    open_tender,
    pdf,
)

#: the two prices, in minor units, and every way a page, a log or a dump might write them
PRICES = {
    987654321: ["987654321", "9876543.21", "9,876,543.21", "9.876.543,21", "9 876 543,21"],
    123456789: ["123456789", "1234567.89", "1,234,567.89", "1.234.567,89", "1 234 567,89"],
}
TEXTS = ["QUOKKA-ZEPHYR-5531 reinforced asphalt method", "MARMOT-TUNDRA-8812 crew roster"]


def spellings(needle: str) -> list[bytes]:
    """``needle`` as bytes, and as a dump writes binary columns (hex, either case)."""
    raw = needle.encode()
    found = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    found += [needle.replace(",", "\u00a0").encode(), needle.replace(" ", "\u00a0").encode()]
    return found


def database_dump(engine) -> bytes:
    """A full logical dump: SQLite's own (``iterdump``); on PostgreSQL ``pg_dump`` of the test
    database, or every row of every table if it is missing."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        connection = engine.raw_connection()
        try:
            return "\n".join(connection.driver_connection.iterdump()).encode()
        finally:
            connection.close()
    if shutil.which("pg_dump"):
        plain = make_url(str(url.set(drivername="postgresql")))
        env = {**os.environ, "PGPASSWORD": plain.password or ""}
        target = plain.set(password=None).render_as_string(hide_password=False)
        return subprocess.run(
            ["pg_dump", "--data-only", target], env=env, capture_output=True, check=True
        ).stdout
    rows = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                rows.append(repr(tuple(row)))
    return "\n".join(rows).encode()


def database_files(engine) -> bytes | None:
    """SQLite's database file as it is on disk, with its write-ahead log and rollback journal:
    freed pages and old log frames included. None on PostgreSQL, whose files are the server's
    (the draft never reaches them in clear either: it is encrypted before it is written)."""
    if engine.url.get_backend_name() != "sqlite":
        return None
    path = Path(engine.url.database)
    found = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-journal")]
    return b"".join(file.read_bytes() for file in found if file.is_file())


def files_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def everywhere(engine, app_settings, keys_dir, caplog) -> dict[str, bytes]:
    """Where a price or a document could be read: the dump, the database's files, the
    portal's files and its logs."""
    haystacks = {
        "database dump": database_dump(engine),
        "files (mail, keys, documents)": files_under(keys_dir),
        "mail folder": files_under(Path(app_settings["mail.directory"])),
        "logs": "\n".join(record.getMessage() for record in caplog.records).encode(),
    }
    raw = database_files(engine)
    if raw is not None:
        haystacks["SQLite database files"] = raw
    repository_var = Path(__file__).parents[3] / "var"
    if repository_var.is_dir():
        haystacks["var/"] = files_under(repository_var)
    return haystacks


def assert_nowhere(haystacks: dict[str, bytes], needles: list[str]) -> None:
    for where, haystack in haystacks.items():
        for needle in needles:
            for spelling in spellings(needle):
                assert spelling not in haystack, f"{needle!r} found in the {where}"


@pytest.fixture
def two_bids(signed_in, wsgi_app, devidp, sandbox, dbsession, clock, caplog):
    needs_bid_receipts(wsgi_app)
    caplog.set_level(logging.DEBUG)
    tender = open_tender(dbsession, clock)
    olga = Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)
    other = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    assert sign_in(other, devidp, "rep-peter").status_int == 303
    peter = Bidder(other, sandbox, dbsession, tender.reference)
    for bidder, price, words in zip((olga, peter), PRICES.values(), TEXTS, strict=True):
        bidder.prepare(price[1], document=("offer.pdf", pdf(words)))
        # the draft holds them (shown to the organisation) until now
        assert bidder.page().forms["draft-form"]["price"].value == price[1]
        bidder.submit()
    dbsession.expire_all()
    assert len(dbsession.scalars(select(BidVersion)).all()) == 2
    return tender


def test_a_full_dump_and_the_portals_files_show_no_price_and_no_document_text(
    two_bids, engine, app_settings, keys_dir, caplog
):
    haystacks = everywhere(engine, app_settings, keys_dir, caplog)
    needles = [spelling for written in PRICES.values() for spelling in written]
    needles += TEXTS
    needles += [base64.b64encode(pdf(words)).decode() for words in TEXTS]
    # the search can find what it looks for: the sealed hashes are in the dump as written
    assert any(b"BR-" in haystack for haystack in haystacks.values())
    assert_nowhere(haystacks, needles)


#: a draft's price, an answer, a document's name and text, none of them submitted
DRAFT_PRICE = ["555444333", "5554443.33", "5,554,443.33", "5.554.443,33", "5 554 443,33"]
DRAFT_ANSWER = "PANGOLIN-MISTRAL-7120 delivery in nine days"
DRAFT_NAME = "offer-WOMBAT-4471.pdf"
DRAFT_TEXT = "WOMBAT-GLACIER-4471 bridge deck survey"


def test_a_saved_draft_shows_nothing_in_a_dump_or_the_database_files_before_submission(
    signed_in, sandbox, dbsession, clock, engine, app_settings, keys_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    tender = open_tender(dbsession, clock)
    olga = Bidder(signed_in("rep-olga"), sandbox, dbsession, tender.reference)
    olga.start()
    olga.save(DRAFT_PRICE[1], answer=DRAFT_ANSWER)
    olga.upload(DRAFT_NAME, pdf(DRAFT_TEXT))
    # the organisation's representative sees the whole draft: it is there to be found
    page = olga.page()
    assert page.forms["draft-form"]["price"].value == DRAFT_PRICE[1]
    assert page.forms["draft-form"]["answer-2"].value == DRAFT_ANSWER
    assert DRAFT_NAME in page.text
    bid = bid_of(dbsession, tender, NORTHWIND)
    assert bid.status == "draft" and bid.versions == [] and len(bid.draft_documents) == 1
    needles = [*DRAFT_PRICE, DRAFT_ANSWER, "PANGOLIN-MISTRAL", DRAFT_NAME, "WOMBAT"]
    needles.append(base64.b64encode(pdf(DRAFT_TEXT)).decode())
    assert_nowhere(everywhere(engine, app_settings, keys_dir, caplog), needles)
