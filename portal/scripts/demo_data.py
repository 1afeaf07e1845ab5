"""``portal-demo-data INI``: the demo world ``make run`` shows. Idempotent: run it as often as
you like, it creates what is missing and leaves the rest.

The people are the development IdP's personas, created through the same provisioning code a
real sign-in uses, so signing in as one of them finds their account, organisation and role.
"""

from __future__ import annotations

import argparse

from pyramid.paster import bootstrap, setup_logging
from sqlalchemy import select

from portal.devidp.personas import PERSONAS
from portal.identity.models import Department
from portal.identity.provisioning import provision_user
from portal.services.models import Service

DEV_IDP_ENTITY_ID = "http://localhost:6544/metadata"

DEPARTMENTS = {
    "revenue": "Revenue Office",
    "registry": "Civil Registry and Licensing",
}

SERVICES = [
    ("property-tax", "Property tax", "revenue"),
    ("water", "Water supply", "revenue"),
    ("waste", "Waste collection", "revenue"),
    ("vehicle-registration", "Vehicle registration", "registry"),
    ("business-licence", "Business licence", "registry"),
    ("civil-status-copy", "Certified copy of a civil status record", "registry"),
]


def load(dbsession, vault, attribute_map) -> None:
    departments = {}
    for code, name in DEPARTMENTS.items():
        department = dbsession.scalar(select(Department).where(Department.code == code))
        if department is None:
            department = Department(code=code, name=name)
            dbsession.add(department)
        departments[code] = department
    dbsession.flush()
    for code, name, department_code in SERVICES:
        if dbsession.scalar(select(Service).where(Service.code == code)) is None:
            dbsession.add(Service(code=code, name=name, department=departments[department_code]))
    for persona in PERSONAS:
        provision_user(
            dbsession, vault, attribute_map, DEV_IDP_ENTITY_ID, persona.id, persona.attributes()
        )
    dbsession.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_uri")
    args = parser.parse_args(argv)
    setup_logging(args.config_uri)
    with bootstrap(args.config_uri) as env:
        request = env["request"]
        with request.tm:
            load(request.dbsession, request.pii, request.registry["saml"].attributes)
    print("demo data loaded")


if __name__ == "__main__":
    main()
