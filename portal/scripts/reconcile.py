"""``portal-reconcile INI [--date YYYY-MM-DD]``: compare the provider's settlement report of a
day (yesterday, UTC, by default) with the portal's records; each discrepancy becomes a case for
a clerk (announced to the work queue). Exits 1 when they disagree, so a
scheduler or monitoring can raise the alarm; 3 when the provider cannot be reached."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from pyramid.paster import bootstrap, setup_logging

from portal.billing import (
    ProviderRefused,
    ProviderUnavailable,
    announce_discrepancies,
    format_report,
    payment_provider,
    reconcile,
)

DISCREPANCIES = 1
PROVIDER_FAILED = 3


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("dates are written as YYYY-MM-DD") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    parser.add_argument(
        "--date",
        type=_day,
        default=None,
        help="the UTC day to reconcile (default: yesterday)",
    )
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        day = args.date or request.clock.now().date() - dt.timedelta(days=1)
        with request.tm:
            try:
                result = reconcile(request.dbsession, payment_provider(request.registry), day)
            except (ProviderUnavailable, ProviderRefused) as error:
                print(f"the settlement report of {day} could not be fetched: {error}")
                return PROVIDER_FAILED
            print(format_report(result))
            # each discrepancy becomes a case in the back office's work queue
            announce_discrepancies(request.dbsession, result)
    return 0 if result.clean else DISCREPANCIES


if __name__ == "__main__":
    sys.exit(main())
