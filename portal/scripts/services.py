"""``portal-sync-services INI``: make the service rows match the registered service plugins.
``portal-import-bills INI SERVICE FILE.csv``: import a tax office's assessments or a utility
company's bills; a file with any bad row imports nothing and the report says why (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyramid.paster import bootstrap, setup_logging
from sqlalchemy import select

from portal.catalogue.interfaces import public_service
from portal.catalogue.models import Service
from portal.clock import clock
from portal.refusals import Refusal
from portal.services.catalogue import sync_services
from portal.services.imports import import_bills


def sync_main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Sync the service rows with the plugins.")
    parser.add_argument("config_uri")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        with request.tm:
            report = sync_services(request.dbsession, request.registry)
    for label, codes in (
        ("created", report.created),
        ("updated", report.updated),
        ("departments created", report.departments_created),
        ("in the database but not registered", report.unregistered),
    ):
        if codes:
            print(f"{label}: {', '.join(codes)}")
    print("services in step")


def import_main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Import bills of a service from a CSV file.")
    parser.add_argument("config_uri")
    parser.add_argument("service", help="the service's code, e.g. property-tax or water")
    parser.add_argument("csv_file", type=Path)
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    data = args.csv_file.read_bytes()
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        plugin = public_service(request.registry, args.service)
        try:
            with request.tm:
                service = request.dbsession.scalar(
                    select(Service).where(Service.code == args.service)
                )
                if plugin is None or service is None:
                    print(f"unknown service {args.service!r} (run portal-sync-services?)")
                    return 2
                result = import_bills(
                    request.dbsession,
                    request.pii,
                    service,
                    plugin.info.kind,
                    data,
                    clock(request.registry).now(),
                )
        except Refusal as refused:
            count = len(refused.errors)
            print(f"{args.csv_file}: nothing imported; {count} problem(s):")
            for error in refused.errors:
                where = f"line {error.line}" if error.line else "file"
                column = f", {error.field}" if error.field else ""
                print(f"  {where}{column}: {error.message.interpolate()}")
            return 1
    print(f"imported {result.rows} rows: {result.bills} bills issued")
    return 0


def import_entry() -> None:
    sys.exit(import_main())
