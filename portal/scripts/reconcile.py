"""``portal-reconcile INI [--date YYYY-MM-DD] [--provider NAME]``: compare a provider's
settlement report of a day (yesterday, UTC, by default) with the portal's records (every
provider configured, the default first, unless one is named); each discrepancy becomes a case
for a clerk in the work queue. Exits 1 when they disagree, so a
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
    payment_providers,
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
    parser.add_argument("--provider", default=None, help="the provider's name (default: all)")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        day = args.date or request.clock.now().date() - dt.timedelta(days=1)
        default = payment_provider(request.registry)
        providers = {default.name: default}
        providers.update(
            (name, provider)
            for name, provider in payment_providers(request.registry).items()
            if name != default.name
        )
        if args.provider is not None and args.provider not in providers:
            parser.error(f"no provider {args.provider!r}: {', '.join(providers)}")
        clean = True
        for name in [args.provider] if args.provider else list(providers):
            with request.tm:
                try:
                    result = reconcile(request.dbsession, providers[name], day)
                except (ProviderUnavailable, ProviderRefused) as error:
                    print(f"{name}: the settlement report of {day} could not be fetched: {error}")
                    return PROVIDER_FAILED
                print(f"{name}: {format_report(result)}")
                # each discrepancy becomes a case in the back office's work queue
                announce_discrepancies(request.dbsession, result)
                clean = clean and result.clean
    return 0 if clean else DISCREPANCIES


if __name__ == "__main__":
    sys.exit(main())
