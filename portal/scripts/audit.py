"""``portal-audit verify INI [--anchor SEQ:HASH]`` walks the audit chain and reports the first
broken link (exit 1), an anchor the chain no longer contains (exit 2) or one whose entry has
been pruned, which can no longer be checked (exit 3: check a later anchor);
``portal-audit anchor INI`` logs and records the chain's head now (the daily job does the
same)."""

from __future__ import annotations

import argparse
import re
import sys

from pyramid.paster import bootstrap, setup_logging

from portal.audit import Anchor, anchor, matches, verify

BROKEN = 1
ANCHOR_DIFFERS = 2
ANCHOR_PRUNED = 3


def _anchor(text: str) -> Anchor:
    found = re.fullmatch(r"(\d+):([0-9a-f]{64})", text.strip())
    if found is None:
        raise argparse.ArgumentTypeError("an anchor is written SEQ:HASH (64 hex digits)")
    return Anchor(int(found[1]), found[2])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk the chain, report the first broken link")
    check.add_argument("config_uri")
    check.add_argument(
        "--anchor",
        type=_anchor,
        action="append",
        default=[],
        help="a head logged earlier (SEQ:HASH) the chain must still contain",
    )
    mark = commands.add_parser("anchor", help="log and record the chain's head")
    mark.add_argument("config_uri")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        if args.command == "anchor":
            with request.tm:
                point = anchor(request.dbsession)
            print(f"anchored the audit chain at {point}")
            return 0
        with request.tm:
            result = verify(request.dbsession)
            found = {point: matches(request.dbsession, point) for point in args.anchor}
    if result.broken is not None:
        print(f"audit chain broken at seq {result.broken.seq}: {result.broken.problem}")
        print(f"({result.count} entries verified before it)")
        return BROKEN
    differing = [point for point, same in found.items() if same is False]
    uncheckable = [point for point, same in found.items() if same is None]
    for point in differing:
        print(f"audit chain does not contain the anchor {point}: history was rewritten")
    for point in uncheckable:
        print(f"the anchor {point} names a pruned entry: it cannot be checked, check a later one")
    if differing:
        return ANCHOR_DIFFERS
    if uncheckable:
        return ANCHOR_PRUNED
    print(f"audit chain OK: {result.count} entries, head {result.head_seq}:{result.head_hash}")
    if result.pruning is not None:
        pruned = result.pruning
        print(
            f"entries 1-{pruned.through_seq} pruned on {pruned.at:%Y-%m-%d}: "
            f"those that occurred before {pruned.before:%Y-%m-%d} (UTC; entry {pruned.seq})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
