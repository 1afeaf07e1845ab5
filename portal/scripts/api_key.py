"""``portal-api-key INI SERVICE_CODE NAME``: make an API key for a service and print it once.

Only the key's SHA-256 is stored: the printed key cannot be shown again, only replaced.
"""

from __future__ import annotations

import argparse
import sys

from pyramid.paster import bootstrap, setup_logging
from sqlalchemy import select

from portal.api.auth import create_api_key
from portal.catalogue.models import Service


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    parser.add_argument("service_code", help="the code of the service the key acts for")
    parser.add_argument("name", help="what the key is for, e.g. the integration's name")
    args = parser.parse_args(argv)
    name = args.name.strip()
    if not name or len(name) > 200:
        parser.error("NAME must be 1 to 200 characters")
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        with request.tm:
            service = request.dbsession.scalar(
                select(Service).where(Service.code == args.service_code)
            )
            if service is None:
                print(f"no service with code {args.service_code!r}", file=sys.stderr)
                return 1
            api_key, token = create_api_key(request.dbsession, service, name)
            prefix = api_key.prefix
    print(f"API key {prefix}... for {args.service_code} ({name}); shown only this once:")
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
