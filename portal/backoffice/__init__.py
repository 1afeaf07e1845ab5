"""The back office's front: the clerk's landing page, a department's page, the payer view (one
payer's bills, payments and refunds across features) and the audit log's search page (auditors
and administrators). The clerk pages
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
    config.add_route("backoffice_payers", "/backoffice/payers")
    payer = "/backoffice/payers/{kind}/{id}"
    config.add_route("backoffice_payer", payer, factory="portal.backoffice.payers.payer_factory")
    config.add_route(
        "backoffice_payer_national_id",
        payer + "/national-id",
        factory="portal.backoffice.payers.payer_factory",
    )
    config.add_navigation_item("backoffice", _("Back office"), "backoffice")
    config.add_route("backoffice_audit", "/backoffice/audit")
    config.add_navigation_item("backoffice_audit", _("Audit log"), "audit")
