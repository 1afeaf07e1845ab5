"""Sealed means unreadable: after two organisations submit, nothing in a full dump of the
database, in the files the portal writes (mail, keys, documents) or in its logs shows either
price, in any way of writing it, or the text of either bid's documents."""

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
from tests.functional.procurement.bidding import Bidder, needs_bid_receipts, open_tender, pdf

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
    database, or every row of every table if it is missing. (The database's raw files are not
    searched: the draft was in clear before sealing, so SQLite's freed pages and PostgreSQL's
    dead tuples may hold it until they are reused or vacuumed.)"""
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


def files_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


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
        # the draft held them in clear until now: the search below finds them this way
        assert bidder.page().forms["draft-form"]["price"].value == price[1]
        bidder.submit()
    dbsession.expire_all()
    assert len(dbsession.scalars(select(BidVersion)).all()) == 2
    return tender


def test_a_full_dump_and_the_portals_files_show_no_price_and_no_document_text(
    two_bids, engine, app_settings, keys_dir, caplog
):
    haystacks = {
        "database dump": database_dump(engine),
        "files (mail, keys, documents)": files_under(keys_dir),
        "mail folder": files_under(Path(app_settings["mail.directory"])),
        "logs": "\n".join(record.getMessage() for record in caplog.records).encode(),
    }
    repository_var = Path(__file__).parents[3] / "var"
    if repository_var.is_dir():
        haystacks["var/"] = files_under(repository_var)
    needles = [spelling for written in PRICES.values() for spelling in written]
    needles += TEXTS
    needles += [base64.b64encode(pdf(words)).decode() for words in TEXTS]
    # the search can find what it looks for: the sealed hashes are in the dump as written
    assert any(b"BR-" in haystack for haystack in haystacks.values())
    for where, haystack in haystacks.items():
        for needle in needles:
            for spelling in spellings(needle):
                assert spelling not in haystack, f"{needle!r} found in the {where}"
