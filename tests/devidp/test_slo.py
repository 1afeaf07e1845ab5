"""Single logout, started by the SP and by the IdP."""

import pytest
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import SIG_RSA_SHA256

from portal.devidp.idp import RequestRefused
from tests.devidp.conftest import SP_ENTITY_ID, SP_SLS_URL, query_of


def sign_in(world, persona_id="citizen-ana"):
    """Sign in through python3-saml; return its Auth after the ACS step."""
    login_url = world.auth("https://sp.example.test/saml/login").login(return_to="/home")
    acs_url, saml_response, relay_state = world.idp.respond(login_url, persona_id)
    auth = world.auth(acs_url, {"SAMLResponse": saml_response, "RelayState": relay_state})
    auth.process_response()
    assert auth.is_authenticated()
    return auth


def test_sp_initiated_logout_with_python3_saml(onelogin_world):
    signed_in = sign_in(onelogin_world)
    logout = onelogin_world.auth("https://sp.example.test/saml/logout")
    logout_url = logout.logout(
        return_to="/bye",
        name_id=signed_in.get_nameid(),
        session_index=signed_in.get_session_index(),
        name_id_format=signed_in.get_nameid_format(),
        spnq=signed_in.get_nameid_spnq(),
    )
    assert onelogin_world.idp.sessions()

    back_url = onelogin_world.idp.logout_response(logout_url)

    assert back_url.startswith(SP_SLS_URL + "?")
    assert query_of(back_url)["RelayState"] == "/bye"
    assert query_of(back_url)["SigAlg"] == SIG_RSA_SHA256
    sls = onelogin_world.auth(back_url)
    sls.process_slo(keep_local_session=True, request_id=logout.get_last_request_id())
    assert sls.get_errors() == [], sls.get_last_error_reason()
    assert onelogin_world.idp.sessions() == []


def test_sp_initiated_logout_with_pysaml2_sp(pysaml2_world):
    request_id, url = pysaml2_world.login()
    pysaml2_world.idp.respond(url, "clerk-dan")
    session_index = pysaml2_world.idp.sessions()[0].session_index
    client = pysaml2_world.client
    slo_url = f"{pysaml2_world.idp.base_url}/slo/redirect"
    _, logout_request = client.create_logout_request(
        slo_url,
        pysaml2_world.idp.entity_id,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="clerk-dan"),
        session_indexes=[session_index],
        sign=False,
    )
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT, str(logout_request), slo_url, sign=True, sigalg=SIG_RSA_SHA256
    )

    back_url = pysaml2_world.idp.logout_response(dict(info["headers"])["Location"])

    query = query_of(back_url)
    [(_, idp_cert)] = client.metadata.certs(pysaml2_world.idp.entity_id, "idpsso", "signing")
    assert verify_redirect_signature(query, client.sec.sec_backend, idp_cert)
    response = client.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
    assert response.response.in_response_to == logout_request.id
    assert pysaml2_world.idp.sessions() == []


def test_unsigned_logout_request_is_refused(pysaml2_world):
    client = pysaml2_world.client
    slo_url = f"{pysaml2_world.idp.base_url}/slo/redirect"
    _, logout_request = client.create_logout_request(
        slo_url, pysaml2_world.idp.entity_id, name_id=NameID(text="citizen-ana"), sign=False
    )
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(logout_request), slo_url, sign=False)

    with pytest.raises(RequestRefused, match="not signed"):
        pysaml2_world.idp.logout_response(dict(info["headers"])["Location"])


def test_idp_initiated_logout_is_accepted_by_python3_saml(onelogin_world):
    signed_in = sign_in(onelogin_world, "rep-peter")
    idp = onelogin_world.idp

    logout_url = idp.logout_request("rep-peter")

    assert logout_url.startswith(SP_SLS_URL + "?")
    sls = onelogin_world.auth(logout_url)
    back_url = sls.process_slo(keep_local_session=True)
    assert sls.get_errors() == [], sls.get_last_error_reason()
    assert sls.get_last_request_xml().count(signed_in.get_session_index()) == 1
    assert idp.sessions() == []
    idp.accept_logout_response(back_url)


def test_idp_initiated_logout_carries_name_id_and_session_index(pysaml2_world):
    _, url = pysaml2_world.login()
    pysaml2_world.idp.respond(url, "citizen-chloe")
    session = pysaml2_world.idp.sessions()[0]

    logout_url = pysaml2_world.idp.logout_request("citizen-chloe")

    request = pysaml2_world.client.parse_logout_request(
        query_of(logout_url)["SAMLRequest"], BINDING_HTTP_REDIRECT
    ).message
    assert request.name_id.text == "citizen-chloe"
    assert request.name_id.sp_name_qualifier == SP_ENTITY_ID
    assert [index.text for index in request.session_index] == [session.session_index]


def test_idp_initiated_logout_needs_a_session(pysaml2_world):
    with pytest.raises(RequestRefused, match="no session"):
        pysaml2_world.idp.logout_request("citizen-ana")
