"""The back office's front: the clerk's landing page and a department's page. The clerk pages
of each feature live with that feature (``billing/backoffice``, ``services/backoffice.py``,
``applications/backoffice.py``)."""

from portal.i18n import _


def includeme(config) -> None:
    config.add_route("backoffice", "/backoffice")
    config.add_route(
        "backoffice_department",
        "/backoffice/departments/{code}",
        factory="portal.identity.departments.department_factory",
    )
    config.add_navigation_item("backoffice", _("Back office"), "backoffice")
