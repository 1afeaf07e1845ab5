"""SP-initiated sign-in and logout against the bundled pysaml2 IdP, through WebTest."""

from tests.conftest import query_of, sign_in


def test_sign_in_reaches_protected_page_and_creates_user(testapp, devidp, departments, dbsession):
    response = sign_in(testapp, devidp, "rep-olga", next_path="/account")
    assert response.status_int == 303
    assert response.location == "https://localhost/account"
    page = testapp.get("/account", status=200)
    assert "Olga Marin" in page.text
    assert "Northwind Supplies Ltd" in page.text

    from portal.identity.models import User

    user = dbsession.query(User).one()
    assert user.name_id == "rep-olga"
    assert user.idp_entity_id == devidp.entity_id
    assert user.national_id_hash and "19820202" not in user.national_id_hash
    assert "19820202" not in user.national_id_encrypted
    # shown to its owner only, in a page no browser or proxy keeps
    assert "19820202-2222" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_lax_and_secure(testapp, devidp, departments):
    response = sign_in(testapp, devidp)
    cookies = [value for name, value in response.headerlist if name == "Set-Cookie"]
    session_cookie = next(c for c in cookies if c.startswith("portal_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    assert "secure" in session_cookie.lower()


def test_sign_in_issues_a_new_session_id(testapp, devidp, departments):
    sign_in(testapp, devidp)
    testapp.get("/logout").forms["logout-form"].submit(status=303)
    before = testapp.cookies.get("portal_session")  # signed out, still a session (Single Logout's)
    assert before
    sign_in(testapp, devidp)
    assert testapp.cookies.get("portal_session") not in (None, before)


def test_second_sign_in_updates_roles_from_idp(testapp, devidp, departments, dbsession):
    sign_in(testapp, devidp, "clerk-clara")
    from portal.identity.models import User

    user = dbsession.query(User).one()
    assert [d.code for d in user.departments] == ["revenue"]
    user.departments = []
    user.given_name = "Changed"
    dbsession.commit()
    sign_in(testapp, devidp, "clerk-clara")
    dbsession.expire_all()
    user = dbsession.query(User).one()
    assert user.given_name == "Clara"
    assert [d.code for d in user.departments] == ["revenue"]


def test_logout_ends_session_and_starts_single_logout(testapp, devidp, departments):
    sign_in(testapp, devidp, "citizen-ben")
    page = testapp.get("/account")
    form = page.forms[0]
    response = form.submit(status=303)
    assert response.location.startswith(devidp.base_url + "/slo/redirect?")
    testapp.get("/account", status=303)  # signed out: sent to sign in

    back = devidp.logout_response(query_of(response.location))
    final = testapp.get(back.removeprefix("https://localhost"), status=303)
    assert final.location == "https://localhost/"
    assert "You have signed out." in final.follow().text


def test_idp_initiated_logout_ends_the_portal_session(testapp, devidp, departments):
    sign_in(testapp, devidp, "citizen-chloe")
    testapp.get("/account", status=200)
    url = devidp.logout_request("citizen-chloe")
    response = testapp.get(url.removeprefix("https://localhost"), status=303)
    assert response.location.startswith(devidp.base_url + "/slo/redirect?")
    devidp.accept_logout_response(query_of(response.location))
    testapp.get("/account", status=303)


def test_logout_requires_csrf_token(testapp, devidp, departments):
    sign_in(testapp, devidp)
    testapp.post("/logout", status=400)
    testapp.get("/account", status=200)


def test_metadata_is_signed_and_names_the_acs(testapp, wsgi_app):
    response = testapp.get("/saml/metadata", status=200)
    assert b"<ds:Signature" in response.body
    assert b"https://localhost/saml/acs" in response.body
    assert b"rsa-sha256" in response.body


def test_an_organisation_released_twice_makes_one_membership(dbsession):
    from portal.identity.pii import PersonalDataVault
    from portal.identity.provisioning import provision_user
    from portal.identity.saml_config import AttributeMap
    from tests.conftest import FERNET_KEY, HMAC_KEY

    attributes = {
        "givenName": ["Olga"],
        "orgRegNumber": ["NW-100200", "NW-100200", " NW-100200 "],
        "orgName": ["Northwind Supplies Ltd", "Northwind", "Northwind"],
    }
    vault = PersonalDataVault(HMAC_KEY, FERNET_KEY)
    user = provision_user(dbsession, vault, AttributeMap(), "https://idp", "olga", attributes)
    dbsession.commit()
    assert [o.registration_number for o in user.organisations] == ["NW-100200"]
