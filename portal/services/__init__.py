"""Public services: the catalogue of what the portal bills for, each owned by a department.

Each service is a plugin (:mod:`portal.catalogue.interfaces`) registered with
``config.add_public_service``; fee schedules, tax assessments with late payment interest and
utility accounts live here too.
"""

from portal.i18n import _
from portal.services.interest import LateInterest, interest_rate


def includeme(config) -> None:
    config.include("portal.services.catalogue")
    config.include("portal.services.webhooks")
    config.add_bill_surcharge(LateInterest(interest_rate(config.get_settings())))
    config.add_route("services", "/services")
    config.add_route("service", "/services/{code}")
    config.add_route("admin_fees", "/admin/fees")
    config.add_route("admin_fee_withdraw", "/admin/fees/withdraw")
    config.add_route(
        "bill_imports", "/backoffice/imports", factory="portal.services.resources.imports_factory"
    )
    config.add_route("utilities", "/utilities")
    config.add_route(
        "backoffice_department_texts",
        "/backoffice/departments/{code}/texts",
        factory="portal.identity.departments.department_factory",
    )
    config.add_navigation_item("services", _("Services"), "account")
    config.add_navigation_item("utilities", _("Utilities"), "account")
    config.add_navigation_item("admin_fees", _("Fees"), "administer")
