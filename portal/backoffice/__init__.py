"""The back office: clerks' work, by department (queues, refunds, reconciliation, reports)."""

from portal.i18n import _


def includeme(config) -> None:
    config.add_route("backoffice", "/backoffice")
    config.add_route(
        "backoffice_department",
        "/backoffice/departments/{code}",
        factory="portal.backoffice.resources.department_factory",
    )
    config.add_navigation_item("backoffice", _("Back office"), "backoffice")
