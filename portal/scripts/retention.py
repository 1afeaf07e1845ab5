"""``portal-retention INI [--dry-run]``: redact or delete what the retention policy says is
past its time, now, as the nightly job does; ``--dry-run`` says how many of each kind would
go and changes nothing."""

from __future__ import annotations

import argparse
import sys

from pyramid.paster import bootstrap, setup_logging

from portal.privacy.retention import run_retention


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what is past its time, change nothing"
    )
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        done = run_retention(env["registry"], dry_run=args.dry_run)
    verb = "would redact or delete" if args.dry_run else "redacted or deleted"
    for kind, count in sorted(done.items()):
        print(f"{kind}: {count} {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
