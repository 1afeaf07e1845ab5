"""From a verified SAML assertion to a portal user.

First sign-in creates the user; every sign-in updates name and email, and organisation
membership and clerk/buyer/administrator/reviewer/auditor roles follow what the IdP says this
time. A change of roles is audited: it changes what the person may do.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.audit import record
from portal.i18n import SOURCE_LANGUAGE
from portal.identity.models import Department, Organisation, User
from portal.identity.saml_config import AttributeMap

log = logging.getLogger(__name__)


def _first(attributes: dict, name: str) -> str:
    values = attributes.get(name) or []
    return str(values[0]).strip() if values and name else ""


def provision_user(
    dbsession,
    vault,
    mapping: AttributeMap,
    idp_entity_id: str,
    name_id: str,
    attributes: dict,
    locale: str = SOURCE_LANGUAGE,
) -> User:
    """The user the assertion names, made at their first sign-in with ``locale`` as their
    language (the one their browser reads the portal in), and brought up to date."""
    user = dbsession.scalar(
        select(User).where(User.idp_entity_id == idp_entity_id, User.name_id == name_id)
    )
    if user is None:
        user = User(idp_entity_id=idp_entity_id, name_id=name_id, locale=locale)
        dbsession.add(user)
        log.info("first sign-in: creating a user")
        roles_before: list[str] = []
    else:
        roles_before = roles_of(user)
    user.given_name = _first(attributes, mapping.given_name)[:200]
    user.family_name = _first(attributes, mapping.family_name)[:200]
    user.email = _first(attributes, mapping.email)[:320]
    national_id = _first(attributes, mapping.national_id)
    if national_id:
        user.national_id_hash = vault.lookup_hash(national_id)
        user.national_id_encrypted = vault.encrypt(national_id)
    user.organisations = _organisations(dbsession, mapping, attributes)
    groups = [str(group) for group in attributes.get(mapping.groups) or []]
    roles = [mapping.group_roles[group] for group in groups if group in mapping.group_roles]
    user.is_admin = any(role == "admin" for role, _ in roles)
    user.is_reviewer = any(role == "reviewer" for role, _ in roles)
    user.is_auditor = any(role == "auditor" for role, _ in roles)
    user.departments = _departments(dbsession, [dept for role, dept in roles if role == "clerk"])
    user.buying_departments = _departments(
        dbsession, [dept for role, dept in roles if role == "buyer"]
    )
    dbsession.flush()
    roles_after = roles_of(user)
    if roles_after != roles_before:
        record(
            dbsession,
            "identity.roles_changed",
            subject_id=user.id,
            object=("user", user.id),
            details={"old": roles_before, "new": roles_after, "idp": idp_entity_id},
        )
    return user


def roles_of(user: User) -> list[str]:
    """The roles ``user`` holds, as names (``admin``, ``clerk:revenue``...), sorted."""
    roles = [
        name
        for name, held in (
            ("admin", user.is_admin),
            ("reviewer", user.is_reviewer),
            ("auditor", user.is_auditor),
        )
        if held
    ]
    roles += [f"clerk:{department.code}" for department in user.departments]
    roles += [f"buyer:{department.code}" for department in user.buying_departments]
    return sorted(roles)


def _organisations(dbsession, mapping: AttributeMap, attributes: dict) -> list[Organisation]:
    numbers = [
        str(v).strip() for v in attributes.get(mapping.organisation_number) or [] if str(v).strip()
    ]
    names = [str(v).strip() for v in attributes.get(mapping.organisation_name) or []]
    organisations = []
    for index, number in enumerate(numbers[:20]):
        organisation = dbsession.scalar(
            select(Organisation).where(Organisation.registration_number == number[:64])
        )
        name = names[index] if index < len(names) and names[index] else number
        if organisation is None:
            organisation = Organisation(registration_number=number[:64], name=name[:200])
            dbsession.add(organisation)
        else:
            organisation.name = name[:200]
        if organisation not in organisations:  # an IdP may release a number twice
            organisations.append(organisation)
    return organisations


def _departments(dbsession, codes: list[str]) -> list[Department]:
    if not codes:
        return []
    departments = list(dbsession.scalars(select(Department).where(Department.code.in_(codes))))
    unknown = set(codes) - {department.code for department in departments}
    if unknown:
        log.warning(
            "IdP named departments the portal does not know: %s", ", ".join(sorted(unknown))
        )
    return departments
