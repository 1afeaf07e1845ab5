"""A tender's OCDS 1.1 release package and record package.

``publishedDate`` is the date of the latest release, as OCDS asks of packages made on
demand: the same data gives the same package. The record links its releases (the release
package's URL and the release's id) and carries the release ocdsmerge compiles from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.procurement.models import Tender
from portal.procurement.ocds.releases import Publication, ocid, tender_releases
from portal.procurement.ocds.schemas import compile_releases

VERSION = "1.1"


@dataclass(frozen=True)
class Publisher:
    name: str
    uri: str


def _head(uri: str, publisher: Publisher, releases: list[dict]) -> dict:
    return {
        "uri": uri,
        "version": VERSION,
        "publishedDate": releases[-1]["date"],
        "publisher": {"name": publisher.name, "uri": publisher.uri},
    }


def release_package(
    tender: Tender, publication: Publication, publisher: Publisher, uri: str
) -> dict | None:
    """The tender's releases as one package; None for a tender that publishes nothing."""
    releases = tender_releases(tender, publication)
    if not releases:
        return None
    return {**_head(uri, publisher, releases), "releases": releases}


def record_package(
    tender: Tender, publication: Publication, publisher: Publisher, uri: str, releases_uri: str
) -> dict | None:
    releases = tender_releases(tender, publication)
    if not releases:
        return None
    record = {
        "ocid": ocid(publication.ocid_prefix, tender),
        "releases": [
            {
                "url": f"{releases_uri}#{release['id']}",
                "date": release["date"],
                "tag": release["tag"],
            }
            for release in releases
        ],
        "compiledRelease": compile_releases(releases),
    }
    return {**_head(uri, publisher, releases), "packages": [releases_uri], "records": [record]}
