"""Benchmark: opening sealed bids, against issue #11's goal of 10,000 bids in under 10 s.

Run: ``.venv/bin/python bench/procurement.py [--bids 10000] [--document-bytes 3000]``

In this process, with the portal's own code (``portal.procurement``) and no database: three
committee keys at the production Argon2id cost, a tender key split 2 of 3, ``--bids`` bids sealed
(a canonical JSON of a price, answers and one document of ``--document-bytes`` random bytes,
base64, so a few KB each), then the opening as the committee would run it: two shares unlocked
with their passphrases, the key rebuilt, every bid's hash checked and every bid decrypted.
Prints wall and CPU time (``time.process_time``) of each step, and the load average, since the
machine's cores are shared.

Then, unless ``--no-http``, the bid submission rate beside the portal's own payment rate, measured
in the same run against the same server (``bench/pay_flow.py``'s set-up: a fresh PostgreSQL
database, the sandbox and the portal in subprocesses as production.ini serves it). A
payment is pay_flow's three requests (pay, checkout, the signed notification); a submission is
three too, as a bidder makes it: start the bid, save the draft (price and answers), submit it
(sealed, with its receipt issued). Each bid goes to a tender of its own (one bid per
organisation and tender), published with no fee or deposit, since paying those is the payment
flow measured beside it. The two loads alternate ``--rounds`` times, ``--seconds`` each, and
the portal process's CPU time per operation is read from /proc, the figure that survives a
noisy machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pay_flow  # noqa: E402  (the bench's own servers, clients and load)

import portal.models  # noqa: E402, F401  (all models, in an order free of import cycles)
from portal.db import get_session_factory  # noqa: E402
from portal.devidp.idp import DevIdP  # noqa: E402
from portal.identity.models import Department, Organisation, User  # noqa: E402
from portal.identity.pii import PersonalDataVault  # noqa: E402
from portal.money import Money  # noqa: E402
from portal.procurement import opening, state  # noqa: E402
from portal.procurement.bid_content import BidContent, BidDocument, decode, encode  # noqa: E402
from portal.procurement.committee_keys import (  # noqa: E402
    KdfCost,
    create_committee_key,
    unlock_committee_key,
)
from portal.procurement.models import (  # noqa: E402
    Bid,
    BidVersion,
    CommitteeKey,
    CommitteeSeat,
    Tender,
    TenderItem,
)
from portal.procurement.sealing import (  # noqa: E402
    CommitteeMember,
    OpenedBid,
    Opening,
    RecordedBid,
    create_tender_key,
    seal_bid,
    unlock_share,
)
from portal.procurement.tenders import new_tender, publish  # noqa: E402

GOAL_SECONDS = 10.0
TENDER = "T-2027-000012"
T = TypeVar("T")


def timed(step: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bid_content(number: int, document_bytes: int) -> bytes:
    """A bid as the portal seals it: a price, answers and one document of random bytes."""
    return encode(
        BidContent(
            price=Money(1_000_000 + number, "EUR"),
            answers={"2": "Delivery within 90 days", "3": "24 months, on site"},
            documents=(BidDocument("proposal.pdf", "application/pdf", os.urandom(document_bytes)),),
        )
    )


# The bid submission rate beside the payment rate, over HTTP

BIDDER = "rep-olga"
BIDDER_ORGANISATION = ("NW-100200", "Northwind Supplies Ltd")
SUBMISSIONS_PER_SECOND_CEILING = 200


def arrange_tenders(url: str, count: int) -> list[str]:
    """``count`` published tenders open for bids for a day, committee keys at the cheapest
    Argon2id cost (the bench times submissions, not unlocking); their references."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    now = dt.datetime.now(dt.UTC)
    timezone = dt.UTC
    references = []
    with get_session_factory(engine)() as dbsession:
        department = Department(code="procurement", name="Public Procurement Office")
        buyer = User(idp_entity_id="bench", name_id="bench-buyer", given_name="Bench")
        members = [User(idp_entity_id="bench", name_id=f"bench-clerk-{i}") for i in range(3)]
        dbsession.add_all([department, buyer, *members])
        for member in members:
            key = create_committee_key("bench", cost=KdfCost(iterations=1, memory_kib=8, lanes=1))
            dbsession.add(
                CommitteeKey(
                    user=member,
                    public_key=key.public_key,
                    sealed_private_key=key.sealed_private_key,
                    created_at=now,
                )
            )
        dbsession.flush()
        for number in range(count):
            tender = new_tender(
                dbsession,
                department=department,
                actor=buyer,
                title=f"Bench tender {number}",
                now=now,
                timezone=timezone,
            )
            tender.items = [
                TenderItem(
                    position=1,
                    description="Works",
                    cpv_code="45233252-0",
                    quantity=Decimal(1),
                    unit="lot",
                )
            ]
            tender.questions_until = now + dt.timedelta(hours=12)
            tender.bids_until = now + dt.timedelta(days=1)
            tender.opening_at = tender.bids_until + dt.timedelta(hours=1)
            tender.committee = [CommitteeSeat(member=member) for member in members]
            tender.committee_threshold = 2
            dbsession.flush()
            publish(dbsession, tender, actor=buyer, now=now)
            references.append(tender.reference)
        dbsession.commit()
    engine.dispose()
    return references


def submit_one(client: pay_flow.Client, references: list[str], lock: threading.Lock, prices):
    """Start, draft and submit one bid (a tender of its own), as the bid page's forms do."""
    with lock:
        if not references:
            return False
        reference = references.pop()
    steps = {}
    for step, fields in (
        ("start", {}),
        ("draft", {"price": f"{next(prices)}.00"}),
        ("submit", {}),
    ):
        began = time.perf_counter()
        status, headers, body = client.post_form(
            f"/tenders/{reference}/bid/{step}", {"csrf_token": client.csrf_token, **fields}
        )
        if status != 303 or urlsplit(headers["Location"]).path != f"/tenders/{reference}/bid":
            raise RuntimeError(f"{step}: {status} {body[:300]!r}")
        steps[f"POST /tenders/<reference>/bid/{step}"] = time.perf_counter() - began
    return steps


def measure_opening_in_database(url: str, count: int, document_bytes: int) -> dict:
    """The opening as the committee's page runs it, on ``count`` sealed bids in PostgreSQL: the
    second member's unlock loads every sealed bid, checks and decrypts it, records its price,
    answers and document, deletes the waiting share and opens the tender, in one transaction."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    vault = PersonalDataVault(secrets.token_hex(32), Fernet.generate_key().decode())
    now = dt.datetime.now(dt.UTC)
    passphrase = "bench committee passphrase"
    with get_session_factory(engine)() as dbsession:
        department = dbsession.scalar(select(Department).where(Department.code == "procurement"))
        buyer = dbsession.scalar(select(User).where(User.name_id == "bench-buyer"))
        members = [User(idp_entity_id="bench", name_id=f"bench-opener-{i}") for i in range(3)]
        dbsession.add_all(members)
        for member in members:
            key = create_committee_key(passphrase)
            dbsession.add(
                CommitteeKey(
                    user=member,
                    public_key=key.public_key,
                    sealed_private_key=key.sealed_private_key,
                    created_at=now,
                )
            )
        dbsession.flush()
        published = now - dt.timedelta(days=10)
        tender = new_tender(
            dbsession,
            department=department,
            actor=buyer,
            title="Bench opening",
            now=published,
            timezone=dt.UTC,
        )
        tender.items = [
            TenderItem(
                position=1, description="Works", cpv_code="45233252-0", quantity=1, unit="lot"
            )
        ]
        tender.questions_until = published + dt.timedelta(days=2)
        tender.bids_until = now - dt.timedelta(hours=2)
        tender.opening_at = now - dt.timedelta(hours=1)
        tender.committee = [CommitteeSeat(member=member) for member in members]
        dbsession.flush()
        publish(dbsession, tender, actor=buyer, now=published)
        state.advance(dbsession, tender, tender.questions_until)
        assert tender.public_key is not None
        submitted = tender.bids_until - dt.timedelta(days=1)
        began = time.perf_counter()
        for number in range(count):
            organisation = Organisation(
                registration_number=f"BENCH-{number}", name=f"Bidder {number}"
            )
            bid = Bid(
                tender=tender,
                organisation=organisation,
                status="submitted",
                created_by=buyer,
                created_at=submitted,
                updated_at=submitted,
            )
            dbsession.add(bid)
            dbsession.flush()
            sealed = seal_bid(
                tender.public_key,
                tender.reference,
                bid.public_id,
                1,
                bid_content(number, document_bytes),
            )
            dbsession.add(
                BidVersion(
                    bid=bid,
                    number=1,
                    sealed=sealed.blob,
                    sha256=sealed.sha256,
                    seal_mac=vault.lookup_hash(
                        "|".join([tender.reference, bid.public_id, "1", sealed.sha256])
                    ),
                    submitted_at=submitted,
                    submitted_by=buyer,
                    tender_version=1,
                )
            )
        state.advance(dbsession, tender, tender.bids_until)
        dbsession.commit()
        stored = time.perf_counter() - began
        tender_id, first, second = tender.id, members[0].id, members[1].id
    results = {"stored": stored}
    for member_id, name in ((first, "first"), (second, "opening")):
        wall, cpu = time.perf_counter(), time.process_time()
        with get_session_factory(engine)() as dbsession:
            tender = dbsession.get(Tender, tender_id)
            member = dbsession.get(User, member_id)
            unlocked = opening.unlock(dbsession, tender, member, passphrase, vault, now)
            dbsession.commit()
        results[name] = (time.perf_counter() - wall, time.process_time() - cpu, unlocked.missing)
    with psycopg.connect(url) as connection:
        results["check"] = connection.execute(
            """SELECT (SELECT status FROM tender WHERE id = %(id)s),
                      (SELECT count(*) FROM bid_version v JOIN bid b ON b.id = v.bid_id
                       WHERE b.tender_id = %(id)s AND v.opened_price_minor IS NOT NULL),
                      (SELECT count(*) FROM bid_version v JOIN bid b ON b.id = v.bid_id
                       WHERE b.tender_id = %(id)s AND v.opening_fault IS NOT NULL),
                      (SELECT count(*) FROM waiting_share WHERE tender_id = %(id)s)""",
            {"id": tender_id},
        ).fetchone()
    engine.dispose()
    return results


def report_opening_in_database(count: int, results: dict) -> None:
    wall, cpu, missing = results["first"]
    print(
        f"in PostgreSQL, {count} sealed bids (stored in {results['stored']:.1f} s): the first "
        f"member's unlock {wall:.2f} s wall, {cpu:.2f} s CPU ({missing} more needed)"
    )
    wall, cpu, missing = results["opening"]
    status, opened, faults, waiting = results["check"]
    print(
        f"  the second member's unlock, which opens them all in one transaction: {wall:.2f} s "
        f"wall, {cpu:.2f} s CPU (goal: under {GOAL_SECONDS:.0f} s: "
        f"{'met' if wall < GOAL_SECONDS else 'MISSED'}); tender {status}, {opened} prices "
        f"recorded, {faults} faults, {waiting} shares left waiting"
    )


def measure_http(args) -> dict:
    """Payments and bid submissions, alternating, against one portal."""
    results: dict = {"pay": [], "submit": []}
    database = f"bench_procurement_{os.getpid()}_{secrets.token_hex(3)}"
    servers: list[pay_flow.Server] = []
    with tempfile.TemporaryDirectory(prefix="procurement_") as tmp_name, pay_flow.admin(args) as pg:
        tmp = Path(tmp_name)
        pg.execute(f"CREATE DATABASE {database}")
        try:
            url = pay_flow.pg_url(args, database)
            pay_flow.migrate(url)
            portal_port, sandbox_port = pay_flow.free_port(), pay_flow.free_port()
            idp = DevIdP(
                tmp / "idp", pay_flow.IDP_ENTITY, f"http://127.0.0.1:{portal_port}/saml/metadata"
            )
            settings = pay_flow.portal_settings(url, tmp, idp, sandbox_port, args.queue)
            pay_flow.write_ini(tmp / "portal.ini", portal_port, settings)
            servers.append(pay_flow.start_sandbox(tmp, sandbox_port))
            portal = pay_flow.Server(
                "portal",
                [pay_flow.PYTHON, "bench/serve.py", str(tmp / "portal.ini"), "portal"],
                portal_port,
                tmp,
                "/healthz",
            )
            servers.append(portal)
            pay_clients = [
                pay_flow.sign_in(portal_port, idp, pay_flow.PAY_PERSONA)
                for _ in range(args.clients)
            ]
            bid_clients = [pay_flow.sign_in(portal_port, idp, BIDDER) for _ in range(args.clients)]
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as connection:
                ids = dict(connection.execute(select(User.name_id, User.id)).all())
                bidders = connection.execute(select(Organisation.registration_number)).all()
            engine.dispose()
            assert (BIDDER_ORGANISATION[0],) in bidders, bidders
            pay_flow.arrange(url, ids[pay_flow.PAY_PERSONA])  # the services bills are from
            window = args.rounds * (args.seconds + pay_flow.WARMUP_SECONDS)
            pay_flow.bulk_bills(
                url, int(250 * window) + 500, "pay", payer_id=ids[pay_flow.PAY_PERSONA]
            )
            references = arrange_tenders(url, int(SUBMISSIONS_PER_SECOND_CEILING * window) // 4)
            pay_flow.vacuum_analyze(url)
            with psycopg.connect(url) as connection:
                pool = connection.execute(
                    "SELECT public_id, total_minor FROM bill WHERE payer_user_id = %s "
                    "ORDER BY id DESC",
                    [ids[pay_flow.PAY_PERSONA]],
                ).fetchall()
            lock, prices = threading.Lock(), itertools.count(150_000)
            for _ in range(args.rounds):
                results["pay"].append(
                    pay_flow.Load(
                        pay_clients,
                        lambda client: pay_flow.pay_one(client, pool, lock),
                        args.seconds,
                        [portal],
                    )
                )
                results["submit"].append(
                    pay_flow.Load(
                        bid_clients,
                        lambda client: submit_one(client, references, lock, prices),
                        args.seconds,
                        [portal],
                    )
                )
            results["opening"] = measure_opening_in_database(url, args.bids, args.document_bytes)
            with psycopg.connect(url) as connection:
                results["check"] = connection.execute(
                    """SELECT (SELECT count(*) FROM bid WHERE status = 'submitted'),
                              (SELECT count(*) FROM bid_version),
                              (SELECT count(*) FROM document WHERE kind = 'bid_receipt'),
                              (SELECT count(*) FROM bid WHERE draft_sealed IS NOT NULL
                                                        AND status = 'submitted')"""
                ).fetchone()
        finally:
            for server in reversed(servers):
                server.stop()
            pg.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            if args.queue.startswith("redis://"):
                import redis

                redis.Redis.from_url(args.queue).flushdb()
    return results


def report_http(args, results: dict) -> None:
    print(
        f"over HTTP, {args.clients} clients, {args.rounds} alternating rounds of "
        f"{args.seconds:.0f} s each (portal CPU from /proc):"
    )
    rates = {}
    for name, label in (("pay", "payments"), ("submit", "bid submissions")):
        loads = results[name]
        count = sum(load.count for load in loads)
        seconds = args.seconds * len(loads)
        cpu = sum(load.cpu.get("portal", 0.0) for load in loads)
        errors = [error for load in loads for error in load.errors]
        latencies = sorted(latency for load in loads for latency in load.measured)
        rates[name] = (count / seconds, 1000 * cpu / max(1, count))
        print(
            f"  {label}: {count / seconds:.1f}/s, {rates[name][1]:.1f} ms portal CPU each, "
            f"p50 {1000 * pay_flow.quantile(latencies, 0.5):.0f} ms, "
            f"p95 {1000 * pay_flow.quantile(latencies, 0.95):.0f} ms, "
            f"per round {', '.join(f'{load.rate:.1f}' for load in loads)}/s"
            + (f"; {len(errors)} errors, first: {errors[0]}" if errors else "")
        )
    print(
        f"  submissions per payment: {rates['submit'][0] / rates['pay'][0]:.2f}x the rate, "
        f"{rates['submit'][1] / rates['pay'][1]:.2f}x the CPU"
    )
    submitted, versions, receipts, left_in_clear = results["check"]
    print(
        f"  check: {submitted} bids submitted, {versions} sealed versions, {receipts} receipts, "
        f"{left_in_clear} drafts left in clear"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bids", type=int, default=10_000)
    parser.add_argument("--document-bytes", type=int, default=3_000)
    parser.add_argument("--no-http", action="store_true", help="the opening only")
    parser.add_argument("--seconds", type=float, default=8, help="measured seconds per load")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each load")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument(
        "--queue", default="redis://127.0.0.1:6379/15", help="a scratch Redis db for the tasks"
    )
    args = parser.parse_args()

    passphrases = {f"clerk-{i}": f"development passphrase {i}" for i in range(3)}
    keys = {member: create_committee_key(passphrase) for member, passphrase in passphrases.items()}
    tender_key = create_tender_key(
        TENDER, [CommitteeMember(member, key.public_key) for member, key in keys.items()], 2
    )
    contents = [bid_content(number, args.document_bytes) for number in range(args.bids)]

    def seal_all() -> list[RecordedBid]:
        recorded = []
        for number, content in enumerate(contents):
            sealed = seal_bid(tender_key.public_key, TENDER, f"bid-{number}", 1, content)
            recorded.append(RecordedBid(f"bid-{number}", 1, sealed.blob, sealed.sha256))
        return recorded

    bids, seal_wall, seal_cpu = timed(seal_all)
    sizes = sorted(len(bid.blob) for bid in bids)

    _, unlock_wall, unlock_cpu = timed(
        lambda: unlock_committee_key(keys["clerk-0"].sealed_private_key, passphrases["clerk-0"])
    )
    shares = [
        unlock_share(
            share,
            TENDER,
            unlock_committee_key(
                keys[share.member_id].sealed_private_key, passphrases[share.member_id]
            ),
        )
        for share in tender_key.shares[1:]
    ]

    def open_all() -> list[OpenedBid]:
        opening = Opening(TENDER, tender_key.public_key, 2)
        for share in shares:
            opening.add(share)
        return opening.open(bids)

    opened, open_wall, open_cpu = timed(open_all)
    intact = sum(1 for bid, content in zip(opened, contents, strict=True) if bid.content == content)
    _, decode_wall, decode_cpu = timed(lambda: [decode(bid.content) for bid in opened])

    print(f"load average (1, 5, 15 min): {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print(
        f"one passphrase unlock (Argon2id t=3, 64 MiB, p=4): {unlock_wall:.3f} s wall, "
        f"{unlock_cpu:.3f} s CPU"
    )
    print(
        f"sealing {args.bids} bids (median {sizes[len(sizes) // 2]} B, "
        f"{sizes[0]}-{sizes[-1]} B): {seal_wall:.2f} s wall, {seal_cpu:.2f} s CPU, "
        f"{args.bids / seal_wall:,.0f} bids/s"
    )
    print(
        f"opening {args.bids} bids with 2 of 3 unlocked shares: {open_wall:.2f} s wall, "
        f"{open_cpu:.2f} s CPU, {args.bids / open_wall:,.0f} bids/s; {intact} intact "
        f"(goal: under {GOAL_SECONDS:.0f} s: {'met' if open_wall < GOAL_SECONDS else 'MISSED'})"
    )
    print(
        f"reading the {args.bids} opened contents: {decode_wall:.2f} s wall, {decode_cpu:.2f} s CPU"
    )
    if not args.no_http:
        results = measure_http(args)
        report_opening_in_database(args.bids, results["opening"])
        report_http(args, results)


if __name__ == "__main__":
    main()
