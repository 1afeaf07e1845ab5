"""Single sign-on through DevIdP.respond(), the API the portal's own tests use."""

import base64
import zlib
from urllib.parse import urlencode

import pytest
from lxml import etree
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from portal.devidp.idp import LOA_HIGH, LOA_SUBSTANTIAL, RequestRefused
from tests.devidp.conftest import SP_ACS_URL, SP_ENTITY_ID, attributes_of, query_of

NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
ASSERTION = f"{{{NS['saml']}}}Assertion"


def test_response_is_accepted_by_pysaml2_sp_with_persona_attributes(pysaml2_world):
    request_id, url = pysaml2_world.login(relay_state="/bills/42")

    acs_url, saml_response, relay_state = pysaml2_world.idp.respond(url, "rep-olga")

    assert (acs_url, relay_state) == (SP_ACS_URL, "/bills/42")
    response = pysaml2_world.accept(saml_response, request_id)
    assert response.in_response_to == request_id
    assert response.name_id.text == "rep-olga"
    assert response.name_id.format == NAMEID_FORMAT_PERSISTENT
    assert attributes_of(response) == {
        "uid": ["rep-olga"],
        "givenName": ["Olga"],
        "sn": ["Marin"],
        "mail": ["olga.marin@example.org"],
        "nationalId": ["19820202-2222"],
        "orgRegNumber": ["NW-100200"],
        "orgName": ["Northwind Supplies Ltd"],
    }
    assert response.authn_info()[0][0] == LOA_SUBSTANTIAL


def test_response_and_assertion_are_signed_with_sha256_only(pysaml2_world):
    _, url = pysaml2_world.login()

    _, saml_response, _ = pysaml2_world.idp.respond(url, "citizen-ana")

    response = etree.fromstring(base64.b64decode(saml_response))
    signed = [signature.getparent() for signature in response.iterfind(".//ds:Signature", NS)]
    assert [element.tag for element in signed] == [f"{{{NS['samlp']}}}Response", ASSERTION]
    methods = response.xpath(
        "//ds:SignatureMethod/@Algorithm | //ds:DigestMethod/@Algorithm", namespaces=NS
    )
    assert set(methods) == {SIG_RSA_SHA256, DIGEST_SHA256}
    assert response.get("Destination") == SP_ACS_URL
    assert response.findtext(".//saml:Audience", namespaces=NS) == SP_ENTITY_ID


def test_attributes_use_basic_name_format_and_multiple_group_values(pysaml2_world):
    request_id, url = pysaml2_world.login()

    _, saml_response, _ = pysaml2_world.idp.respond(url, "admin-ada", loa=LOA_HIGH)

    response = pysaml2_world.accept(saml_response, request_id)
    assert attributes_of(response)["groups"] == ["admin", "clerk:revenue"]
    assert "nationalId" not in attributes_of(response)
    assert response.authn_info()[0][0] == LOA_HIGH
    formats = {
        attribute.name_format for attribute in response.assertion.attribute_statement[0].attribute
    }
    assert formats == {NAME_FORMAT_BASIC}


def test_query_may_be_a_parse_qs_style_mapping(pysaml2_world):
    request_id, url = pysaml2_world.login()
    query = {key: [value] for key, value in query_of(url).items()}

    _, saml_response, _ = pysaml2_world.idp.respond(query, "citizen-ben")

    assert attributes_of(pysaml2_world.accept(saml_response, request_id))["sn"] == ["Kovač"]


def test_response_is_accepted_by_strict_python3_saml_sp(onelogin_world):
    login_url = onelogin_world.auth("https://sp.example.test/saml/login").login(return_to="/home")
    acs_url, saml_response, relay_state = onelogin_world.idp.respond(login_url, "clerk-clara")

    auth = onelogin_world.auth(acs_url, {"SAMLResponse": saml_response, "RelayState": relay_state})
    auth.process_response()

    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated()
    assert relay_state == "/home"
    assert auth.get_nameid() == "clerk-clara"
    assert auth.get_nameid_format() == NAMEID_FORMAT_PERSISTENT
    assert auth.get_attributes() == {
        "uid": ["clerk-clara"],
        "givenName": ["Clara"],
        "sn": ["Zupan"],
        "mail": ["clara.zupan@example.org"],
        "groups": ["clerk:revenue"],
    }
    assert auth.get_last_authn_contexts() == [LOA_SUBSTANTIAL]
    assert auth.get_session_index()


def test_unsigned_authn_request_is_refused(pysaml2_world):
    _, url = pysaml2_world.login(sign=False)

    with pytest.raises(RequestRefused, match="not signed"):
        pysaml2_world.idp.respond(url, "citizen-ana")


def test_sha1_signed_authn_request_is_refused(pysaml2_world):
    _, url = pysaml2_world.login(sigalg=SIG_RSA_SHA1)

    with pytest.raises(RequestRefused, match="refused"):
        pysaml2_world.idp.respond(url, "citizen-ana")


def test_tampered_relay_state_breaks_the_signature(pysaml2_world):
    _, url = pysaml2_world.login(relay_state="/bills")
    query = query_of(url) | {"RelayState": "https://evil.example/"}

    with pytest.raises(RequestRefused, match="not signed correctly"):
        pysaml2_world.idp.respond(query, "citizen-ana")


def test_request_from_an_unknown_sp_is_refused(pysaml2_world, onelogin_world):
    _, url = pysaml2_world.login()

    with pytest.raises(RequestRefused, match="not signed correctly"):
        onelogin_world.idp.respond(url, "citizen-ana")


@pytest.mark.parametrize(
    "saml_request",
    [
        "%%% not base64 %%%",
        base64.b64encode(b"definitely not deflated").decode(),
        base64.b64encode(zlib.compress(b"<not-saml/>")[2:-4]).decode(),
        base64.b64encode(zlib.compress(b"not xml at all")[2:-4]).decode(),
    ],
)
def test_junk_saml_request_is_refused(pysaml2_world, saml_request):
    query = urlencode({"SAMLRequest": saml_request, "SigAlg": "x", "Signature": "eA=="}).replace(
        "SigAlg=x", "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
    )

    with pytest.raises(RequestRefused):
        pysaml2_world.idp.respond(query, "citizen-ana")


def test_unknown_persona_and_level_of_assurance_are_refused(pysaml2_world):
    _, url = pysaml2_world.login()

    with pytest.raises(RequestRefused, match="Unknown persona"):
        pysaml2_world.idp.respond(url, "citizen-zed")
    with pytest.raises(RequestRefused, match="level of assurance"):
        pysaml2_world.idp.respond(url, "citizen-ana", loa="http://eidas.europa.eu/LoA/none")
