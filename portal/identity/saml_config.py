"""The Service Provider's configuration for python3-saml, built from the portal's settings.

Every security option is set explicitly (the library's defaults are permissive), and the URLs
python3-saml checks Destination and Recipient against come from ``portal.base_url``, never from
request headers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree
import xmlsec
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from portal.settings import SettingsError, setting_bool, setting_lines

log = logging.getLogger(__name__)

PERSISTENT = Constants.NAMEID_PERSISTENT
DEFAULT_LOA_LEVELS = (
    "http://eidas.europa.eu/LoA/low",
    "http://eidas.europa.eu/LoA/substantial",
    "http://eidas.europa.eu/LoA/high",
)


def check_xml_libraries() -> None:
    """lxml and xmlsec built against different libxml2 versions fail in confusing ways
    (signatures that never verify, crashes); refuse to start and say why."""
    lxml_version = lxml.etree.LIBXML_VERSION
    xmlsec_version = xmlsec.get_libxml_version()
    if lxml_version != xmlsec_version:
        raise SettingsError(
            f"lxml uses libxml2 {lxml_version} but xmlsec uses {xmlsec_version}: install the "
            "pinned lxml and xmlsec wheels from setup.cfg (or build both from source against "
            "one libxml2)"
        )


@dataclass(frozen=True)
class AttributeMap:
    """Which SAML attribute carries which fact, and which groups grant which role."""

    subject: str = ""
    given_name: str = "givenName"
    family_name: str = "sn"
    email: str = "mail"
    national_id: str = "nationalId"
    organisation_number: str = "orgRegNumber"
    organisation_name: str = "orgName"
    groups: str = "groups"
    #: group name -> ("clerk", department code) or ("admin", "")
    group_roles: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: dict) -> AttributeMap:
        names = {
            name: settings[f"saml.attribute.{name}"]
            for name in (
                "subject",
                "given_name",
                "family_name",
                "email",
                "national_id",
                "organisation_number",
                "organisation_name",
                "groups",
            )
            if f"saml.attribute.{name}" in settings
        }
        group_roles = {}
        # one per line, or separated by ";" (an environment variable is one line)
        lines = [
            part.strip()
            for line in setting_lines(settings, "saml.group_roles")
            for part in line.split(";")
            if part.strip()
        ]
        for line in lines:
            group, _, role = (part.strip() for part in line.partition("="))
            role_name, _, department = role.partition(" ")
            if role_name not in ("clerk", "buyer", "admin", "reviewer", "auditor") or (
                role_name in ("clerk", "buyer") and not department
            ):
                raise SettingsError(
                    f"saml.group_roles: cannot read {line!r} "
                    "(GROUP = clerk DEPT | buyer DEPT | admin | reviewer | auditor)"
                )
            group_roles[group] = (role_name, department.strip())
        return cls(**names, group_roles=group_roles)


@dataclass
class IdentityProvider:
    entity_id: str
    name: str
    settings: dict
    slo_url: str | None


@dataclass
class ServiceProviderConfig:
    base_url: str
    entity_id: str
    cert: str
    key: str
    idps: list[IdentityProvider]
    attributes: AttributeMap
    loa_levels: tuple[str, ...]
    min_loa_pay: str
    min_loa_clerk: str
    allow_idp_initiated: bool
    max_response_bytes: int

    def idp(self, entity_id: str) -> IdentityProvider | None:
        return next((idp for idp in self.idps if idp.entity_id == entity_id), None)

    def loa_rank(self, loa: str | None) -> int:
        return self.loa_levels.index(loa) if loa in self.loa_levels else -1

    def request_data(self, request) -> dict:
        """What python3-saml reads of a request, with host, port and scheme from base_url."""
        url = urlsplit(self.base_url)
        return {
            "https": "on" if url.scheme == "https" else "off",
            "http_host": url.hostname,
            "server_port": url.port or (443 if url.scheme == "https" else 80),
            "script_name": url.path + request.path_info,
            "get_data": dict(request.GET),
            "post_data": dict(request.POST) if request.method == "POST" else {},
            "query_string": request.query_string,
        }


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise SettingsError(f"{what}: cannot read {path}: {error.strerror}") from error


def _idp_settings(base_url, entity_id, cert, key, metadata_xml, settings) -> dict:
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(
        metadata_xml,
        required_sso_binding=Constants.BINDING_HTTP_REDIRECT,
        required_slo_binding=Constants.BINDING_HTTP_REDIRECT,
    )
    if "idp" not in parsed:
        raise SettingsError("saml.idp_metadata: no IDPSSODescriptor found")
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": entity_id,
            "assertionConsumerService": {
                "url": f"{base_url}/saml/acs",
                "binding": Constants.BINDING_HTTP_POST,
            },
            "singleLogoutService": {
                "url": f"{base_url}/saml/sls",
                "binding": Constants.BINDING_HTTP_REDIRECT,
            },
            "NameIDFormat": PERSISTENT,
            "x509cert": cert,
            "privateKey": key,
        },
        "idp": parsed["idp"],
        "security": {
            "nameIdEncrypted": False,
            "authnRequestsSigned": True,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "signMetadata": False,
            "wantMessagesSigned": setting_bool(settings, "saml.want_messages_signed", True),
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": False,
            "wantNameId": True,
            "wantNameIdEncrypted": False,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "wantXMLValidation": True,
            "rejectUnsolicitedResponsesWithInResponseTo": True,
            "rejectDeprecatedAlgorithm": True,
            "allowSingleLabelDomains": False,
            "allowRepeatAttributeName": False,
            "signatureAlgorithm": Constants.RSA_SHA256,
            "digestAlgorithm": Constants.SHA256,
        },
    }


def load_config(settings: dict) -> ServiceProviderConfig:
    check_xml_libraries()
    base_url = settings["portal.base_url"]
    entity_id = settings.get("saml.sp_entity_id") or f"{base_url}/saml/metadata"
    if not settings.get("saml.sp_cert") or not settings.get("saml.sp_key"):
        raise SettingsError(
            "saml.sp_cert and saml.sp_key must name the SP's certificate and key files"
        )
    cert = _read(settings["saml.sp_cert"], "saml.sp_cert")
    key = _read(settings["saml.sp_key"], "saml.sp_key")
    Constants.ALLOWED_CLOCK_DRIFT = int(settings.get("saml.clock_skew_seconds", 60))
    idps = []
    for path in setting_lines(settings, "saml.idp_metadata"):
        metadata_xml = _read(path, "saml.idp_metadata")
        idp_settings = _idp_settings(base_url, entity_id, cert, key, metadata_xml, settings)
        idp_entity = idp_settings["idp"]["entityId"]
        slo = idp_settings["idp"].get("singleLogoutService", {}).get("url")
        name = urlsplit(idp_entity).hostname or idp_entity
        idps.append(IdentityProvider(idp_entity, name, idp_settings, slo))
    if not idps:
        log.warning("saml.idp_metadata names no identity provider: nobody can sign in")
    levels = tuple(setting_lines(settings, "saml.loa_levels")) or DEFAULT_LOA_LEVELS
    for name in ("saml.min_loa_pay", "saml.min_loa_clerk"):
        if settings.get(name) and settings[name] not in levels:
            raise SettingsError(f"{name} must be one of saml.loa_levels: {', '.join(levels)}")
    return ServiceProviderConfig(
        base_url=base_url,
        entity_id=entity_id,
        cert=cert,
        key=key,
        idps=idps,
        attributes=AttributeMap.from_settings(settings),
        loa_levels=levels,
        min_loa_pay=settings.get("saml.min_loa_pay", levels[1] if len(levels) > 1 else levels[0]),
        min_loa_clerk=settings.get("saml.min_loa_clerk", levels[-1]),
        allow_idp_initiated=setting_bool(settings, "saml.allow_idp_initiated"),
        max_response_bytes=int(settings.get("saml.max_response_bytes", 200_000)),
    )
