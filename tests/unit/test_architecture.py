"""The import contracts cover what they should: every module of billing but its front door,
its models and its events is protected, so a new one cannot be imported from outside by
accident."""

import configparser
import pkgutil
from pathlib import Path

import portal.billing

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"
FRONT_DOOR = {"portal.billing.models", "portal.billing.events"}


def contract(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    return parser[f"importlinter:contract:{name}"]


def test_every_internal_module_of_billing_is_protected():
    protected = set(contract("billing-front-door")["protected_modules"].split())
    modules = {
        f"portal.billing.{module.name}" for module in pkgutil.iter_modules(portal.billing.__path__)
    }
    assert protected == modules - FRONT_DOOR
    assert contract("billing-front-door")["allowed_importers"].split() == ["portal.billing"]


def test_every_name_the_front_door_exports_exists():
    missing = [name for name in portal.billing.__all__ if not hasattr(portal.billing, name)]
    assert not missing
