"""Sign-in, sign-out, a stronger sign-in and the roles the IdP gives are audited, in the
transaction that makes them; a refused sign-in leaves no entry."""

from __future__ import annotations

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.identity.models import User
from portal.identity.pii import PersonalDataVault
from portal.identity.provisioning import provision_user
from portal.identity.saml_config import AttributeMap
from tests.conftest import FERNET_KEY, HMAC_KEY, query_of, sign_in

LOW = "http://eidas.europa.eu/LoA/low"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def audited(dbsession) -> list[AuditEntry]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def user_id(dbsession, name_id: str) -> int:
    return dbsession.scalar(select(User.id).where(User.name_id == name_id))


def test_sign_in_and_sign_out_are_audited(testapp, devidp, departments, dbsession):
    sign_in(testapp, devidp, "citizen-ben")
    testapp.get("/account").forms[0].submit(status=303)

    ben = user_id(dbsession, "citizen-ben")
    entries = audited(dbsession)
    assert [(e.action, e.actor_id) for e in entries] == [
        ("identity.signed_in", ben),
        ("identity.signed_out", ben),
    ]
    assert entries[0].details == {"loa": SUBSTANTIAL, "idp": devidp.entity_id}


def test_a_sign_out_started_by_the_idp_is_audited(testapp, devidp, departments, dbsession):
    sign_in(testapp, devidp, "citizen-chloe")
    url = devidp.logout_request("citizen-chloe")
    testapp.get(url.removeprefix("https://localhost"), status=303)

    last = audited(dbsession)[-1]
    assert (last.action, last.actor_id, last.details) == (
        "identity.signed_out",
        user_id(dbsession, "citizen-chloe"),
        {"by": "idp"},
    )


def test_signing_in_again_at_a_higher_level_is_a_step_up(testapp, devidp, departments, dbsession):
    sign_in(testapp, devidp, "citizen-ana", loa=LOW)
    sign_in(testapp, devidp, "citizen-ana", loa=SUBSTANTIAL)

    first, second = audited(dbsession)
    assert first.action == "identity.signed_in"
    assert second.action == "identity.stepped_up"
    assert second.details["previous_loa"] == LOW
    assert second.details["loa"] == SUBSTANTIAL


def test_a_refused_sign_in_leaves_no_entry(testapp, devidp, departments, dbsession):
    query = query_of(testapp.get("/saml/login", params={"next": "/account"}).location)
    _acs, response, relay = devidp.respond(query, "citizen-ana")
    testapp.post("/saml/acs", {"SAMLResponse": response[:-8], "RelayState": relay}, status=400)

    assert audited(dbsession) == []


def test_role_changes_from_the_idp_are_audited_with_old_and_new(dbsession, departments):
    vault = PersonalDataVault(HMAC_KEY, FERNET_KEY)
    roles = AttributeMap(
        group_roles={
            "clerk:revenue": ("clerk", "revenue"),
            "admin": ("admin", ""),
            "auditor": ("auditor", ""),
        }
    )

    def provision(*groups: str) -> User:
        user = provision_user(dbsession, vault, roles, "https://idp", "dan", {"groups": groups})
        dbsession.commit()
        return user

    dan = provision("clerk:revenue")
    provision("clerk:revenue")
    provision("admin", "auditor")

    changes = [e for e in audited(dbsession) if e.action == "identity.roles_changed"]
    assert [(e.subject_id, e.details["old"], e.details["new"]) for e in changes] == [
        (dan.id, [], ["clerk:revenue"]),
        (dan.id, ["clerk:revenue"], ["admin", "auditor"]),
    ]
    assert dan.is_auditor and dan.is_admin and dan.departments == []
