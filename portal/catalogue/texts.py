"""A service's name and description as a reader of one language reads them: its
department's own wording in that language, else its plugin's (:mod:`portal.localized`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.catalogue.interfaces import ServiceInfo
from portal.catalogue.models import Service
from portal.localized import pick


@dataclass(frozen=True)
class ServiceText:
    """A service as a reader of one language reads it in the catalogue."""

    code: str
    name: str
    description: str


def service_rows(dbsession) -> dict[str, Service]:
    """The ``service`` rows by code: what their departments wrote of them."""
    return {row.code: row for row in dbsession.scalars(select(Service))}


def service_text(info: ServiceInfo, row: Service | None, locale: str | None) -> ServiceText:
    """The name and description of ``info`` in ``locale``: its department's own wording in
    that language (the row's translations), else its plugin's as the catalogue translates
    it (:func:`portal.localized.pick`)."""
    return ServiceText(
        info.code,
        pick(locale, str(info.name), row.name_translations if row else None),
        pick(locale, str(info.description), row.description_translations if row else None),
    )
