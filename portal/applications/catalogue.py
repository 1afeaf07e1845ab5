"""The three registration services that need a clerk's approval, as catalogue plugins.

Each checks its own form and prices a request from the fee schedule in force on the day
(:func:`portal.services.fees.fee_for`); the amounts are data, never written here.
"""

from __future__ import annotations

import datetime as dt
import re

from pyramid.i18n import TranslationString

from portal.applications.forms import check_fields
from portal.catalogue.interfaces import APPLICATION, BillLineInput, FormField, ServiceInfo
from portal.i18n import _
from portal.money import Money
from portal.services.fees import fee_for

REGISTRY = "registry"
CERTIFICATE = "certificate"

VEHICLE_CATEGORIES = (
    ("passenger-car", _("Passenger car")),
    ("motorcycle", _("Motorcycle")),
    ("trailer", _("Trailer")),
    ("truck", _("Truck")),
)
RECORD_TYPES = (
    ("birth", _("Birth record")),
    ("marriage", _("Marriage record")),
    ("death", _("Death record")),
)
#: the fee schedule's item for one licence and one certified copy
LICENCE_ITEM = "licence"
COPY_ITEM = "copy"
MAX_COPIES = 10

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_REGISTRATION_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,19}$")


def _label(choices, code: str) -> TranslationString:
    return dict(choices)[code]


class _Service:
    info: ServiceInfo

    def validate(
        self, data: dict[str, str], today: dt.date
    ) -> tuple[dict[str, str], dict[str, str]]:
        cleaned, errors = check_fields(self.info.form, data)
        for name, message in self.check(cleaned, today).items():
            errors.setdefault(name, message)
        return ({} if errors else cleaned), errors

    def check(self, cleaned: dict[str, str], today: dt.date) -> dict[str, str]:
        """This service's own rules on values that passed the field checks."""
        return {}


def _not_in_future(cleaned: dict[str, str], name: str, today: dt.date) -> dict[str, str]:
    if name in cleaned and dt.date.fromisoformat(cleaned[name]) > today:
        return {name: _("This date cannot be in the future.")}
    return {}


class VehicleRegistration(_Service):
    info = ServiceInfo(
        code="vehicle-registration",
        name=_("Vehicle registration"),
        description=_(
            "Register a vehicle and get its registration certificate. "
            "The fee depends on the kind of vehicle."
        ),
        department_code=REGISTRY,
        kind=APPLICATION,
        requirements=(
            _("The vehicle identification number (VIN) from the vehicle's papers"),
            _("The date the vehicle was first registered"),
        ),
        form=(
            FormField("category", _("Kind of vehicle"), "choice", choices=VEHICLE_CATEGORIES),
            FormField(
                "vin",
                _("Vehicle identification number (VIN)"),
                hint=_("17 letters and digits, without I, O or Q"),
                max_length=17,
            ),
            FormField("make_model", _("Make and model"), max_length=100),
            FormField("first_registered", _("Date of first registration"), "date", max_length=10),
        ),
        requires_approval=True,
        issues=CERTIFICATE,
    )

    def check(self, cleaned, today):
        errors = _not_in_future(cleaned, "first_registered", today)
        if "vin" in cleaned:
            cleaned["vin"] = cleaned["vin"].upper()
            if not _VIN.match(cleaned["vin"]):
                errors["vin"] = _("A VIN is 17 letters and digits, without the letters I, O and Q.")
        return errors

    def fee(self, dbsession, cleaned, on):
        category = cleaned["category"]
        amount = fee_for(dbsession, self.info.code, category, on)
        description = _(
            "Vehicle registration: ${category}",
            mapping={"category": _label(VEHICLE_CATEGORIES, category)},
        )
        return [BillLineInput(description, amount)]


class BusinessLicence(_Service):
    info = ServiceInfo(
        code="business-licence",
        name=_("Business licence"),
        description=_("Apply for a licence to run a business at a place of business."),
        department_code=REGISTRY,
        kind=APPLICATION,
        requirements=(
            _("The business's registration number"),
            _("The address of the place of business"),
        ),
        form=(
            FormField("business_name", _("Name of the business"), max_length=200),
            FormField(
                "registration_number",
                _("Business registration number"),
                hint=_("As on the business register, for example NW-100200"),
                max_length=20,
            ),
            FormField("activity", _("What the business does"), max_length=200),
            FormField("premises", _("Address of the place of business"), max_length=300),
            FormField("starts_on", _("Start of the activity"), "date", max_length=10),
        ),
        requires_approval=True,
        issues=CERTIFICATE,
    )

    def check(self, cleaned, today):
        errors = {}
        if "registration_number" in cleaned:
            cleaned["registration_number"] = cleaned["registration_number"].upper()
            if not _REGISTRATION_NUMBER.match(cleaned["registration_number"]):
                errors["registration_number"] = _(
                    "Use 4 to 20 letters, digits and hyphens, as on the business register."
                )
        if "starts_on" in cleaned and dt.date.fromisoformat(cleaned["starts_on"]) < today:
            errors["starts_on"] = _("The activity cannot start before today.")
        return errors

    def fee(self, dbsession, cleaned, on):
        amount = fee_for(dbsession, self.info.code, LICENCE_ITEM, on)
        description = _(
            "Business licence: ${name}", mapping={"name": cleaned["business_name"][:200]}
        )
        return [BillLineInput(description, amount)]


class CivilStatusCopy(_Service):
    info = ServiceInfo(
        code="civil-status-copy",
        name=_("Certified copy of a civil status record"),
        description=_("Order certified copies of a birth, marriage or death record."),
        department_code=REGISTRY,
        kind=APPLICATION,
        requirements=(_("The name on the record, and the date and place of the event"),),
        form=(
            FormField("record", _("Record"), "choice", choices=RECORD_TYPES),
            FormField("person", _("Full name on the record"), max_length=200),
            FormField("event_date", _("Date of the event"), "date", max_length=10),
            FormField("place", _("Place where it was registered"), max_length=200),
            FormField(
                "copies",
                _("Number of copies"),
                "number",
                hint=_("From 1 to 10"),
                max_length=2,
            ),
        ),
        requires_approval=True,
        issues=CERTIFICATE,
    )

    def check(self, cleaned, today):
        errors = _not_in_future(cleaned, "event_date", today)
        if "copies" in cleaned and int(cleaned["copies"]) > MAX_COPIES:
            errors["copies"] = _(
                "At most ${count} copies can be ordered at once.", mapping={"count": MAX_COPIES}
            )
        return errors

    def fee(self, dbsession, cleaned, on):
        unit = fee_for(dbsession, self.info.code, COPY_ITEM, on)
        copies = int(cleaned["copies"])
        description = _(
            "Certified copy: ${record}, ${count} × ${unit}",
            mapping={
                "record": _label(RECORD_TYPES, cleaned["record"]),
                "count": copies,
                "unit": str(unit),
            },
        )
        return [BillLineInput(description, Money(unit.minor * copies, unit.currency))]


SERVICES = (VehicleRegistration(), BusinessLicence(), CivilStatusCopy())


def display_values(service, values: dict[str, str], localizer) -> list[tuple[str, str]]:
    """(label, value) of each filled field as a person reads it: choices by their name."""
    shown = []
    for field in service.info.form:
        value = values.get(field.name, "")
        if not value:
            continue
        if field.kind == "choice" and value in dict(field.choices):
            value = localizer.translate(dict(field.choices)[value])
        shown.append((localizer.translate(field.label), value))
    return shown
