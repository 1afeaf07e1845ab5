"""``portal-retention INI [--dry-run]``: redact or delete what the retention policy says is
past its time, now, as the nightly job does; ``--dry-run`` says how many of each kind would
go and changes nothing, ``--dry-run --as-of YYYY-MM-DD`` how many would by that day."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from pyramid.paster import bootstrap, setup_logging

from portal.privacy.retention import run_retention


def _day(text: str) -> dt.datetime:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise argparse.ArgumentTypeError("dates are written as YYYY-MM-DD") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what is past its time, change nothing"
    )
    parser.add_argument(
        "--as-of",
        type=_day,
        default=None,
        help="with --dry-run: count what would be past its time at the start of that UTC day",
    )
    args = parser.parse_args(argv)
    if args.as_of and not args.dry_run:
        parser.error("--as-of needs --dry-run: a real run goes by the clock")
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        done = run_retention(env["registry"], dry_run=args.dry_run, as_of=args.as_of)
    verb = "would redact or delete" if args.dry_run else "redacted or deleted"
    for kind, count in sorted(done.items()):
        print(f"{kind}: {count} {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
