"""Run the development IdP: ``python -m portal.devidp`` (installed as ``portal-devidp``)."""

import argparse
import logging

import waitress

from portal.devidp.app import DevIdPApp
from portal.devidp.idp import DevIdP


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="portal-devidp", description="Development SAML identity provider with demo personas."
    )
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=6544)
    parser.add_argument("--state-dir", default="var/devidp", help="keys and metadata.xml live here")
    parser.add_argument("--base-url", default="http://localhost:6544")
    parser.add_argument(
        "--sp-metadata",
        default="http://localhost:6543/saml/metadata",
        help="URL (fetched on first sign-in) or file path of the portal's SP metadata",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    idp = DevIdP(args.state_dir, args.base_url, args.sp_metadata)
    logging.getLogger("portal.devidp").info(
        "IdP metadata written to %s; serving %s", idp.metadata_path, idp.base_url
    )
    waitress.serve(DevIdPApp(idp), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
