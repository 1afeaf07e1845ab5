"""Benchmark: opening sealed bids, against issue #11's goal of 10,000 bids in under 10 s.

Run: ``.venv/bin/python bench/procurement.py [--bids 10000] [--document-bytes 3000]``

In this process, with the portal's own code (``portal.procurement``) and no database: three
committee keys at the production Argon2id cost, a tender key split 2 of 3, ``--bids`` bids sealed
(a canonical JSON of a price, answers and one document of ``--document-bytes`` random bytes,
base64, so a few KB each), then the opening as the committee would run it: two shares unlocked
with their passphrases, the key rebuilt, every bid's hash checked and every bid decrypted.
Prints wall and CPU time (``time.process_time``) of each step, and the load average, since the
machine's cores are shared.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Callable
from typing import TypeVar

from portal.procurement.committee_keys import create_committee_key, unlock_committee_key
from portal.procurement.sealing import (
    CommitteeMember,
    OpenedBid,
    Opening,
    RecordedBid,
    create_tender_key,
    seal_bid,
    unlock_share,
)

GOAL_SECONDS = 10.0
TENDER = "T-2027-000012"
T = TypeVar("T")


def timed(step: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bid_content(number: int, document_bytes: int) -> bytes:
    return json.dumps(
        {
            "price": {"amount": 1_000_000 + number, "currency": "EUR"},
            "answers": {"delivery_days": 90, "warranty_months": 24, "service": "on site"},
            "documents": [
                {
                    "name": "proposal.pdf",
                    "content": base64.b64encode(os.urandom(document_bytes)).decode(),
                }
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bids", type=int, default=10_000)
    parser.add_argument("--document-bytes", type=int, default=3_000)
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


if __name__ == "__main__":
    main()
