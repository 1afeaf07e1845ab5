"""Serve the sandbox provider with waitress: ``python -m portal.sandbox --port 6545``."""

import argparse
import logging
import os

import waitress

from .app import DEFAULTS, make_app

ENVIRONMENT = {
    "base_url": "SANDBOX_BASE_URL",
    "merchant_id": "SANDBOX_MERCHANT_ID",
    "api_key": "SANDBOX_API_KEY",
    "signing_secret": "SANDBOX_SIGNING_SECRET",
    "db_path": "SANDBOX_DB",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="portal-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6545)
    parser.add_argument("--base-url", help="public URL of this server (for hosted_url)")
    parser.add_argument("--db", dest="db_path", help="SQLite file (default var/sandbox.db)")
    parser.add_argument("--merchant-id")
    parser.add_argument("--api-key")
    parser.add_argument("--signing-secret")
    parser.add_argument("--duplicate-rate", type=float, help="share of events sent twice")
    parser.add_argument("--reorder-rate", type=float, help="share of events held back")
    parser.add_argument("--seed", type=int, help="seed for the duplicate/reorder choices")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    settings = {key: os.environ.get(name) for key, name in ENVIRONMENT.items()}
    settings.update({k: v for k, v in vars(args).items() if v is not None})
    if not settings.get("base_url"):
        settings["base_url"] = f"http://localhost:{args.port}"
    logging.basicConfig(level=logging.INFO)
    app = make_app({k: v for k, v in settings.items() if k in DEFAULTS})
    try:
        waitress.serve(app, host=args.host, port=args.port)
    finally:
        app.registry.notifier.stop()


if __name__ == "__main__":
    main()
