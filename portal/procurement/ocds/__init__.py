"""Open Contracting Data Standard 1.1: each published tender's releases, release package and
compiled record, as public JSON under ``/api/v1/ocds/`` (see the README, "OCDS").

Settings: ``procurement.ocid_prefix``, the prefix the OCDS helpdesk registered for the
publisher (``ocds-`` and six letters or digits), and ``procurement.ocds_identifier_scheme``,
the org-id.guide scheme of organisations' registration numbers.
"""

from __future__ import annotations

import re

from pyramid.exceptions import ConfigurationError

#: a placeholder for development and tests; a publisher registers its own
DEFAULT_OCID_PREFIX = "ocds-000000"
DEFAULT_IDENTIFIER_SCHEME = "XX-PORTAL"
_OCID_PREFIX = re.compile(r"^ocds-[a-z0-9]{6}$")


def ocid_prefix(settings) -> str:
    return settings.get("procurement.ocid_prefix", DEFAULT_OCID_PREFIX)


def identifier_scheme(settings) -> str:
    return settings.get("procurement.ocds_identifier_scheme", DEFAULT_IDENTIFIER_SCHEME)


def includeme(config) -> None:
    prefix = ocid_prefix(config.registry.settings)
    if not _OCID_PREFIX.match(prefix):
        raise ConfigurationError(
            f"procurement.ocid_prefix must be 'ocds-' and six lowercase letters or digits, "
            f"not {prefix!r}"
        )
    config.add_route("api_ocds_tenders", "/api/v1/ocds/tenders")
    config.add_route("api_ocds_releases", "/api/v1/ocds/tenders/{reference}/releases")
    config.add_route("api_ocds_record", "/api/v1/ocds/tenders/{reference}/record")
