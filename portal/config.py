"""Composition of the application: one ordered list of feature packages."""

from __future__ import annotations

from pyramid.config import Configurator

from portal.security import UNDECLARED
from portal.settings import apply_environment, check_required, setting_bool

FEATURES = (
    "portal.clock",
    "portal.db",
    "portal.templating",
    "portal.security",
    "portal.web",
    "portal.information",
    "portal.identity",
    "portal.health",
    "portal.tasks",
    "portal.audit",
    "portal.catalogue",
    "portal.billing",
    "portal.documents",
    "portal.receipts",
    "portal.services",
    "portal.api",
    "portal.backoffice",
    "portal.applications",
    "portal.procurement",
    "portal.cases",
)


def configure(settings: dict) -> Configurator:
    """Build the configurator for ``settings`` (already overlaid with the environment)."""
    settings = apply_environment(dict(settings))
    check_required(settings)
    settings["portal.base_url"] = settings["portal.base_url"].rstrip("/")
    config = Configurator(settings=settings)
    # A view that forgets its permission is closed to everyone rather than open.
    config.set_default_permission(UNDECLARED)
    for feature in FEATURES:
        config.include(feature)
    if setting_bool(settings, "portal.debugtoolbar"):
        config.include("pyramid_debugtoolbar")
    config.scan("portal", ignore=["portal.sandbox", "portal.devidp", "portal.scripts"])
    config.commit()
    return config
