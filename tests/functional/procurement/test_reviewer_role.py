"""The reviewer role: the IdP's ``reviewer`` group makes a person a reviewer and nothing else
(no department, no buying, no administration, no organisation), they land on the complaints
to review, and the role follows the IdP at each sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

from pyramid.authorization import Authenticated, Everyone
from sqlalchemy import select

from portal.identity.models import User
from portal.identity.pii import PersonalDataVault
from portal.identity.provisioning import provision_user
from portal.identity.saml_config import AttributeMap
from portal.security import ROLE_CITIZEN, ROLE_REVIEWER, principals_for, user_principal
from tests.conftest import FERNET_KEY, HMAC_KEY, sign_in


def test_the_reviewer_group_gives_the_reviewer_role_and_nothing_else(
    testapp, devidp, departments, dbsession
):
    answer = sign_in(testapp, devidp, "reviewer-rita", next_path="")
    assert answer.status_int == 303
    assert urlsplit(answer.location).path == "/review/complaints"
    page = testapp.get("/review/complaints", status=200)
    assert "No registered complaint waits for a decision." in page.text
    assert page.html.find("a", href="/review/complaints") is not None

    rita = dbsession.scalars(select(User).where(User.name_id == "reviewer-rita")).one()
    assert rita.is_reviewer and not rita.is_admin
    assert rita.departments == [] and rita.buying_departments == []
    assert rita.organisations == []
    assert principals_for(rita) == [
        Everyone,
        Authenticated,
        user_principal(rita.id),
        ROLE_CITIZEN,
        ROLE_REVIEWER,
    ]
    # none of the clerks', buyers' or bidders' pages
    testapp.get("/backoffice", status=403)
    testapp.get("/procurement/tenders", status=403)
    testapp.get("/bids", status=403)


def test_others_are_not_reviewers_and_see_no_review_queue(testapp, devidp, departments):
    for persona in ("rep-quinn", "buyer-bruno", "clerk-clara", "admin-ada"):
        sign_in(testapp, devidp, persona)
        testapp.get("/review/complaints", status=403)
        assert testapp.get("/account").html.find("a", href="/review/complaints") is None
        testapp.reset()


def test_the_role_follows_the_idp_at_each_sign_in(dbsession):
    vault = PersonalDataVault(HMAC_KEY, FERNET_KEY)
    roles = AttributeMap(group_roles={"reviewer": ("reviewer", "")})
    user = provision_user(
        dbsession, vault, roles, "https://idp", "rita", {"groups": ["reviewer", "unknown"]}
    )
    assert user.is_reviewer and ROLE_REVIEWER in principals_for(user)
    user = provision_user(dbsession, vault, roles, "https://idp", "rita", {"groups": []})
    assert not user.is_reviewer and ROLE_REVIEWER not in principals_for(user)
