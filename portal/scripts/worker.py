"""``portal-worker INI``: runs background and periodic jobs (see :mod:`portal.tasks`)."""

from __future__ import annotations

import argparse

from pyramid.paster import bootstrap, setup_logging

from portal.tasks import task_queue


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri", help="the ini file, e.g. development.ini")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    env = bootstrap(args.config_uri)
    try:
        queue = task_queue(env["registry"])
        queue.huey.create_consumer(workers=args.workers, worker_type="thread", periodic=True).run()
    finally:
        env["closer"]()


if __name__ == "__main__":
    main()
