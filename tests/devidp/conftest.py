"""Service providers to test the dev IdP against: pysaml2's own and python3-saml (the portal's).

Each gets its own IdP instance, since an IdP knows one SP's metadata.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as OL
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from webtest import TestApp

from portal.devidp.app import DevIdPApp
from portal.devidp.idp import LOA_SUBSTANTIAL, DevIdP
from portal.devidp.keys import ensure_key_pair

IDP_BASE_URL = "http://idp.example.test"
SP_ENTITY_ID = "https://sp.example.test/saml/metadata"
SP_ACS_URL = "https://sp.example.test/saml/acs"
SP_SLS_URL = "https://sp.example.test/saml/sls"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def pysaml2_sp_config(key: Path, cert: Path, idp_metadata: str | None = None) -> SPConfig:
    settings = {
        "entityid": SP_ENTITY_ID,
        "key_file": str(key),
        "cert_file": str(cert),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(SP_ACS_URL, BINDING_HTTP_POST)],
                    "single_logout_service": [(SP_SLS_URL, BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "authn_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": True,
            }
        },
    }
    if idp_metadata:
        settings["metadata"] = {"inline": [idp_metadata]}
    return SPConfig().load(settings)


@dataclass
class PySaml2SP:
    """pysaml2's SP client, independent of the IdP code under test except for the library."""

    client: Saml2Client
    idp: DevIdP

    def login(self, relay_state="/bills", sign=True, sigalg=SIG_RSA_SHA256, binding=None):
        """Return (request id, redirect URL or POST form fields) for a new AuthnRequest."""
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.idp.entity_id,
            relay_state=relay_state,
            binding=binding or BINDING_HTTP_REDIRECT,
            sign=sign,
            sigalg=sigalg,
            digest_alg=DIGEST_SHA256,
        )
        if binding == BINDING_HTTP_POST:
            return request_id, info["data"]
        return request_id, dict(info["headers"])["Location"]

    def accept(self, saml_response: str, request_id: str):
        return self.client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
        )


def attributes_of(response) -> dict[str, list[str]]:
    """Attributes by their SAML Name, read without pysaml2's attribute maps."""
    statement = response.assertion.attribute_statement[0]
    return {
        attribute.name: [value.text for value in attribute.attribute_value]
        for attribute in statement.attribute
    }


@pytest.fixture
def pysaml2_world(tmp_path) -> PySaml2SP:
    sp_key, sp_cert = ensure_key_pair(tmp_path / "pysaml2-sp")
    sp_metadata = tmp_path / "pysaml2-sp" / "metadata.xml"
    metadata_config = pysaml2_sp_config(sp_key, sp_cert)
    metadata_config.xmlsec_binary = None
    sp_metadata.write_bytes(create_metadata_string(None, config=metadata_config))
    idp = DevIdP(tmp_path / "pysaml2-idp", IDP_BASE_URL, str(sp_metadata))
    client = Saml2Client(config=pysaml2_sp_config(sp_key, sp_cert, idp.metadata_xml()))
    return PySaml2SP(client, idp)


@pytest.fixture
def app(pysaml2_world) -> TestApp:
    return TestApp(DevIdPApp(pysaml2_world.idp))


def onelogin_request_data(url: str, post_data: dict | None = None) -> dict:
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": query_of(url),
        "post_data": post_data or {},
    }


@dataclass
class OneLoginSP:
    """A python3-saml SP configured the way the portal's is (strict, everything signed)."""

    settings: dict
    idp: DevIdP

    def auth(self, url: str, post_data: dict | None = None) -> OneLogin_Saml2_Auth:
        return OneLogin_Saml2_Auth(onelogin_request_data(url, post_data), self.settings)


@pytest.fixture
def onelogin_world(tmp_path) -> OneLoginSP:
    sp_key, sp_cert = ensure_key_pair(tmp_path / "onelogin-sp")
    settings = {
        "strict": True,
        "sp": {
            "entityId": SP_ENTITY_ID,
            "assertionConsumerService": {"url": SP_ACS_URL, "binding": OL.BINDING_HTTP_POST},
            "singleLogoutService": {"url": SP_SLS_URL, "binding": OL.BINDING_HTTP_REDIRECT},
            "NameIDFormat": OL.NAMEID_PERSISTENT,
            "x509cert": sp_cert.read_text(),
            "privateKey": sp_key.read_text(),
        },
        "security": {
            "authnRequestsSigned": True,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantNameId": True,
            "signatureAlgorithm": OL.RSA_SHA256,
            "digestAlgorithm": OL.SHA256,
            "rejectDeprecatedAlgorithm": True,
            "requestedAuthnContext": [LOA_SUBSTANTIAL],
            "requestedAuthnContextComparison": "minimum",
        },
    }
    sp_metadata = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
    idp = DevIdP(tmp_path / "onelogin-idp", IDP_BASE_URL, sp_metadata.decode("utf-8"))
    settings["idp"] = OneLogin_Saml2_IdPMetadataParser.parse(idp.metadata_xml())["idp"]
    return OneLoginSP(settings, idp)
