"""Personal data kept no longer than needed: the retention policy and its nightly job, a
person's download of their data, and erasure requests processed by an administrator.

It sits above the features whose records it reaches (through their models), and the policy is
read and checked when the portal starts (:mod:`portal.privacy.policy`).
"""

from portal.i18n import _
from portal.privacy.policy import policy_from_settings


def includeme(config) -> None:
    config.registry["privacy.policy"] = policy_from_settings(config.get_settings())
    config.add_route("account_data", "/account/data")
    config.add_route("account_data_json", "/account/data.json")
    config.add_route("admin_erasure", "/admin/privacy/erasure")
    config.add_route("admin_erasure_person", "/admin/privacy/erasure/{person}")
    config.add_navigation_item("admin_erasure", _("Erasure requests"), "administer")
