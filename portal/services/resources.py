"""Contexts for the services' back-office pages: importing bills is for the clerks of the
department that owns the service, and for administrators."""

from __future__ import annotations

from pyramid.authorization import Allow
from sqlalchemy import select

from portal.catalogue.interfaces import public_services
from portal.catalogue.models import Service
from portal.security import ROLE_ADMIN, department_principal
from portal.services.imports import IMPORTABLE_KINDS


def importable_services(request) -> list[Service]:
    """Service rows whose plugin takes imported bills (taxes, utilities)."""
    codes = [
        code
        for code, plugin in public_services(request.registry).items()
        if plugin.info.kind in IMPORTABLE_KINDS
    ]
    return list(
        request.dbsession.scalars(
            select(Service).where(Service.code.in_(codes)).order_by(Service.name)
        )
    )


class ServiceImportContext:
    """One service's imports."""

    def __init__(self, service: Service):
        self.service = service
        self.__acl__ = [
            (Allow, department_principal(service.department_id), "import"),
            (Allow, ROLE_ADMIN, "import"),
        ]


class ImportsContext:
    """The import page: open to the clerks of any department owning an importable service."""

    def __init__(self, services: list[Service]):
        self.services = services
        departments = sorted({service.department_id for service in services})
        self.__acl__ = [(Allow, ROLE_ADMIN, "import")] + [
            (Allow, department_principal(department), "import") for department in departments
        ]


def imports_factory(request) -> ImportsContext:
    return ImportsContext(importable_services(request))
