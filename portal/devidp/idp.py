"""The SAML side of the development IdP: verifying the portal's requests and signing the answers.

The web pages (``app.py``) and the portal's tests both go through :class:`DevIdP`, so a test that
hands a real redirect URL to :meth:`DevIdP.respond` gets exactly what a browser would.
"""

import base64
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import requests
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.assertion import Policy
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import response_from_string
from saml2.server import Server
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import (
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
    SIG_RSA_SHA256,
    SIG_RSA_SHA384,
    SIG_RSA_SHA512,
)

from portal.devidp.keys import ensure_key_pair
from portal.devidp.personas import ATTRIBUTE_NAMES, PERSONAS_BY_ID, Persona

LOA_LOW = "http://eidas.europa.eu/LoA/low"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOA_HIGH = "http://eidas.europa.eu/LoA/high"
LEVELS_OF_ASSURANCE = (LOA_LOW, LOA_SUBSTANTIAL, LOA_HIGH)

SSO_REDIRECT_PATH = "/sso/redirect"
SSO_POST_PATH = "/sso/post"
SLO_REDIRECT_PATH = "/slo/redirect"

ACCEPTED_SIGNATURE_ALGORITHMS = (SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512)
ACCEPTED_DIGEST_ALGORITHMS = (DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512)
ASSERTION_LIFETIME_MINUTES = 5
MAX_REASON_LENGTH = 300


class RequestRefused(ValueError):
    """A message or choice the IdP will not act on; the web app shows it as a 400 page."""


class SPMetadataUnavailable(RuntimeError):
    """The SP metadata cannot be read yet, usually because the portal has not started."""


def xmlsec_binary() -> str:
    """pysaml2 signs and verifies XML by running xmlsec1, so name the package when it is missing."""
    path = shutil.which("xmlsec1")
    if path is None:
        raise RuntimeError(
            "The development IdP needs the xmlsec1 program: install the Debian package 'xmlsec1' "
            "(apt-get install xmlsec1)."
        )
    return path


@dataclass(frozen=True)
class ReceivedMessage:
    """A SAML message exactly as the SP sent it, so its signature can be checked again later."""

    saml_message: str
    binding: str
    relay_state: str | None = None
    sig_alg: str | None = None
    signature: str | None = None

    @classmethod
    def from_query(
        cls,
        query: Mapping | str,
        binding: str = BINDING_HTTP_REDIRECT,
        field: str = "SAMLRequest",
    ) -> "ReceivedMessage":
        """Accept a redirect URL, a query string or a mapping (plain or ``parse_qs``-style)."""
        if isinstance(query, str):
            query = dict(parse_qsl(query.partition("?")[2] or query, keep_blank_values=True))
        values = {
            key: value[0] if isinstance(value, list | tuple) else value
            for key, value in query.items()
            if value is not None
        }
        if not values.get(field):
            raise RequestRefused(f"The {field} parameter is missing.")
        return cls(
            saml_message=values[field],
            binding=binding,
            relay_state=values.get("RelayState"),
            sig_alg=values.get("SigAlg"),
            signature=values.get("Signature"),
        )

    def check_query_signature_present(self) -> None:
        """Refuse unsigned or SHA-1 signed redirects before pysaml2 sees them."""
        if self.binding != BINDING_HTTP_REDIRECT:
            return
        if not self.sig_alg or not self.signature:
            raise RequestRefused(
                "The message is not signed: the SigAlg and Signature parameters are required."
            )
        if self.sig_alg not in ACCEPTED_SIGNATURE_ALGORITHMS:
            raise RequestRefused(
                f"The signature algorithm {self.sig_alg} is refused; use RSA-SHA256 or stronger."
            )


@dataclass(frozen=True)
class IssuedSession:
    """What an IdP-initiated LogoutRequest must repeat back to the SP."""

    persona_id: str
    sp_entity_id: str
    session_index: str

    def name_id(self) -> NameID:
        return persistent_name_id(self.persona_id, self.sp_entity_id)


def persistent_name_id(persona_id: str, sp_entity_id: str) -> NameID:
    return NameID(format=NAMEID_FORMAT_PERSISTENT, text=persona_id, sp_name_qualifier=sp_entity_id)


class ReleaseEveryAttribute(Policy):
    """Release all of a persona's attributes whatever the SP metadata requests.

    Portal tests then see the same attributes however the SP metadata is configured.
    """

    def restrict(self, ava, sp_entity_id, metadata=None):
        return ava


def basic_attribute_converter() -> AttributeConverter:
    """Name attributes exactly as the portal expects them, with the basic NameFormat."""
    names = {name: name for name in ATTRIBUTE_NAMES}
    converter = AttributeConverter(NAME_FORMAT_BASIC)
    converter.from_dict({"identifier": NAME_FORMAT_BASIC, "fro": names, "to": names})
    return converter


def failure_reason(exc: BaseException) -> str:
    """pysaml2 wraps the useful detail in the exception chain; show all of it, briefly."""
    reasons, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        reason = f"unknown SAML entity {exc}" if isinstance(exc, KeyError) else str(exc)
        if reason and reason not in reasons:
            reasons.append(reason)
        exc = exc.__cause__ or exc.__context__
    text = ": ".join(reasons) or "the message could not be read"
    return text[:MAX_REASON_LENGTH]


class DevIdP:
    """A SAML 2.0 identity provider that signs people in as a chosen demo persona."""

    def __init__(
        self,
        state_dir: str | os.PathLike = "var/devidp",
        base_url: str = "http://localhost:6544",
        sp_metadata: str = "http://localhost:6543/saml/metadata",
    ):
        """``sp_metadata`` is a URL (fetched on first use), a file path, or the XML itself."""
        self.state_dir = Path(state_dir)
        self.base_url = base_url.rstrip("/")
        self.entity_id = f"{self.base_url}/metadata"
        self.sp_metadata = sp_metadata
        self.key_path, self.cert_path = ensure_key_pair(self.state_dir)
        self.xmlsec = xmlsec_binary()
        self._server: Server | None = None
        self._lock = threading.Lock()
        self._sessions: list[IssuedSession] = []
        self._metadata_xml = self._build_metadata_xml()
        self.metadata_path = self.state_dir / "metadata.xml"
        self.metadata_path.write_text(self._metadata_xml, encoding="utf-8")

    # Configuration

    def _config(self, sp_metadata_xml: str | None = None) -> IdPConfig:
        endpoints = {
            "single_sign_on_service": [
                (self.base_url + SSO_REDIRECT_PATH, BINDING_HTTP_REDIRECT),
                (self.base_url + SSO_POST_PATH, BINDING_HTTP_POST),
            ],
            "single_logout_service": [(self.base_url + SLO_REDIRECT_PATH, BINDING_HTTP_REDIRECT)],
        }
        settings = {
            "entityid": self.entity_id,
            "xmlsec_binary": self.xmlsec,
            "key_file": str(self.key_path),
            "cert_file": str(self.cert_path),
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "service": {
                "idp": {
                    "name": "Portal development IdP",
                    "endpoints": endpoints,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "want_authn_requests_signed": True,
                    "sign_response": True,
                    "sign_assertion": True,
                }
            },
        }
        if sp_metadata_xml is not None:
            settings["metadata"] = {"inline": [sp_metadata_xml]}
        config = IdPConfig().load(settings)
        config.attribute_converters = [basic_attribute_converter()]
        return config

    def metadata_xml(self) -> str:
        """The IdP metadata, which the portal's ``saml.idp_metadata`` setting reads."""
        return self._metadata_xml

    def _build_metadata_xml(self) -> str:
        config = self._config()
        # Without xmlsec1 pysaml2 omits its list of every algorithm xmlsec1 knows (SHA-1, MD5).
        config.xmlsec_binary = None
        return create_metadata_string(None, config=config).decode("utf-8")

    def _read_sp_metadata(self) -> str:
        source = self.sp_metadata
        if source.lstrip().startswith("<"):
            return source
        if source.startswith(("http://", "https://")):
            try:
                response = requests.get(source, timeout=10)
                response.raise_for_status()
            except requests.RequestException as exc:
                raise SPMetadataUnavailable(
                    f"Could not fetch the SP metadata from {source} ({exc}). "
                    "Start the portal, then try again."
                ) from exc
            return response.text
        try:
            return Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise SPMetadataUnavailable(f"Could not read the SP metadata file {source}.") from exc

    def server(self) -> Server:
        """The pysaml2 IdP, created on first use so the IdP can start before the portal."""
        with self._lock:
            if self._server is None:
                self._server = self._server_knowing(self._read_sp_metadata())
            return self._server

    def _server_knowing(self, sp_metadata: str) -> Server:
        try:
            server = Server(config=self._config(sp_metadata))
        except Exception as exc:
            raise SPMetadataUnavailable(
                f"The SP metadata is not usable SAML metadata: {failure_reason(exc)}"
            ) from exc
        if not server.metadata.with_descriptor("spsso"):
            raise SPMetadataUnavailable(
                "The SP metadata is not usable SAML metadata: it describes no service provider."
            )
        return server

    # Single sign-on

    def verify_authn_request(self, message: ReceivedMessage):
        """Return the AuthnRequest once its signature checks out against the SP metadata."""
        message.check_query_signature_present()
        server = self.server()
        try:
            parsed = server.parse_authn_request(
                message.saml_message,
                message.binding,
                relay_state=message.relay_state,
                sigalg=message.sig_alg,
                signature=message.signature,
            )
        except Exception as exc:
            raise RequestRefused(f"The AuthnRequest was refused: {failure_reason(exc)}") from exc
        if parsed is None:
            raise RequestRefused("The AuthnRequest was refused: it could not be read.")
        request = parsed.message
        if message.binding == BINDING_HTTP_POST:
            check_xml_signature_algorithms(request)
        return request

    def respond(
        self,
        saml_request_query: Mapping | str,
        persona_id: str,
        loa: str = LOA_SUBSTANTIAL,
        binding: str = BINDING_HTTP_REDIRECT,
    ) -> tuple[str, str, str | None]:
        """Sign ``persona_id`` in; return (ACS URL, base64 SAMLResponse, RelayState or None).

        This is what submitting the persona picker does; POST the two values to the ACS URL.
        """
        message = ReceivedMessage.from_query(saml_request_query, binding)
        request = self.verify_authn_request(message)
        persona = persona_by_id(persona_id)
        if loa not in LEVELS_OF_ASSURANCE:
            raise RequestRefused(f"Unknown level of assurance {loa!r}.")
        server = self.server()
        try:
            args = server.response_args(request, [BINDING_HTTP_POST])
        except Exception as exc:
            raise RequestRefused(
                "The AuthnRequest names an assertion consumer service that the SP metadata does "
                f"not list for HTTP-POST: {failure_reason(exc)}"
            ) from exc
        sp_entity_id = args["sp_entity_id"]
        response = server.create_authn_response(
            persona.attributes(),
            in_response_to=args["in_response_to"],
            destination=args["destination"],
            sp_entity_id=sp_entity_id,
            name_id=persistent_name_id(persona.id, sp_entity_id),
            authn={"class_ref": loa, "authn_auth": self.entity_id},
            sign_response=True,
            sign_assertion=True,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            release_policy=self._release_policy(server),
        )
        response_xml = str(response)
        self._record_session(persona, sp_entity_id, response_xml)
        encoded = base64.b64encode(response_xml.encode("utf-8")).decode("ascii")
        return args["destination"], encoded, message.relay_state

    def _release_policy(self, server: Server) -> Policy:
        restrictions = {
            "default": {
                "lifetime": {"minutes": ASSERTION_LIFETIME_MINUTES},
                "name_form": NAME_FORMAT_BASIC,
            }
        }
        return ReleaseEveryAttribute(restrictions, mds=server.metadata)

    def _record_session(self, persona: Persona, sp_entity_id: str, response_xml: str) -> None:
        statement = response_from_string(response_xml).assertion[0].authn_statement[0]
        with self._lock:
            self._sessions.append(IssuedSession(persona.id, sp_entity_id, statement.session_index))

    # Single logout

    def sessions(self) -> list[IssuedSession]:
        with self._lock:
            return list(self._sessions)

    def logout_response(self, query: Mapping | str) -> str:
        """Answer the SP's LogoutRequest; return the redirect URL with a signed LogoutResponse."""
        message = ReceivedMessage.from_query(query)
        message.check_query_signature_present()
        server = self.server()
        try:
            request = server.parse_logout_request(
                message.saml_message,
                BINDING_HTTP_REDIRECT,
                relay_state=message.relay_state,
                sigalg=message.sig_alg,
                signature=message.signature,
            ).message
            response = server.create_logout_response(request, [BINDING_HTTP_REDIRECT], sign=False)
        except Exception as exc:
            raise RequestRefused(f"The LogoutRequest was refused: {failure_reason(exc)}") from exc
        self._forget_sessions(
            issuer_of(request),
            request.name_id.text if request.name_id is not None else None,
            {index.text for index in request.session_index},
        )
        return self._redirect_url(
            server, str(response), response.destination, message.relay_state, is_response=True
        )

    def logout_request(self, persona_id: str) -> str:
        """Start IdP-initiated logout of the persona's latest session; return the redirect URL."""
        persona = persona_by_id(persona_id)
        mine = [session for session in self.sessions() if session.persona_id == persona.id]
        if not mine:
            raise RequestRefused(f"{persona.display_name} has no session to end.")
        session = mine[-1]
        server = self.server()
        locations = server.metadata.single_logout_service(
            session.sp_entity_id, BINDING_HTTP_REDIRECT, "spsso"
        )
        if not locations:
            raise RequestRefused("The SP metadata lists no HTTP-Redirect SingleLogoutService.")
        destination = locations[0]["location"]
        _, request = server.create_logout_request(
            destination,
            session.sp_entity_id,
            name_id=session.name_id(),
            session_indexes=[session.session_index],
            sign=False,
        )
        self._forget_sessions(session.sp_entity_id, persona.id, {session.session_index})
        return self._redirect_url(server, str(request), destination, None, is_response=False)

    def accept_logout_response(self, query: Mapping | str) -> None:
        """Check the SP's answer to an IdP-initiated logout (its query signature, if any)."""
        message = ReceivedMessage.from_query(query, field="SAMLResponse")
        server = self.server()
        try:
            response = server.parse_logout_request_response(
                message.saml_message, BINDING_HTTP_REDIRECT
            )
        except Exception as exc:
            reason = failure_reason(exc)
            raise RequestRefused(f"The LogoutResponse was refused: {reason}") from exc
        if response is None:
            raise RequestRefused("The LogoutResponse was refused: it could not be read.")
        if message.signature or message.sig_alg:
            message.check_query_signature_present()
            self._check_response_query_signature(server, message, response.issuer())

    def _check_response_query_signature(
        self, server: Server, message: ReceivedMessage, sp_entity_id: str
    ) -> None:
        signed = {"SAMLResponse": message.saml_message, "SigAlg": message.sig_alg}
        signed["Signature"] = message.signature
        if message.relay_state is not None:
            signed["RelayState"] = message.relay_state
        certs = server.metadata.certs(sp_entity_id, "any", "signing")
        try:
            verified = any(
                verify_redirect_signature(signed, server.sec.sec_backend, cert) for _, cert in certs
            )
        except Exception as exc:
            raise RequestRefused(f"The LogoutResponse signature is invalid: {exc}") from exc
        if not verified:
            raise RequestRefused("The LogoutResponse signature is invalid.")

    def _forget_sessions(
        self, sp_entity_id: str, persona_id: str | None, session_indexes: set[str]
    ) -> None:
        with self._lock:
            self._sessions = [
                session
                for session in self._sessions
                if not (
                    session.sp_entity_id == sp_entity_id
                    and session.persona_id == persona_id
                    and (not session_indexes or session.session_index in session_indexes)
                )
            ]

    def _redirect_url(
        self,
        server: Server,
        message_xml: str,
        destination: str,
        relay_state: str | None,
        is_response: bool,
    ) -> str:
        info = server.apply_binding(
            BINDING_HTTP_REDIRECT,
            message_xml,
            destination,
            relay_state=relay_state or "",
            response=is_response,
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        return dict(info["headers"])["Location"]


def issuer_of(request) -> str:
    return request.issuer.text.strip()


def persona_by_id(persona_id: str) -> Persona:
    try:
        return PERSONAS_BY_ID[persona_id]
    except KeyError:
        raise RequestRefused(f"Unknown persona {persona_id!r}.") from None


def check_xml_signature_algorithms(request) -> None:
    """Refuse SHA-1 in an embedded (HTTP-POST) signature, which pysaml2 would accept."""
    signed_info = request.signature.signed_info
    algorithms_ok = signed_info.signature_method.algorithm in ACCEPTED_SIGNATURE_ALGORITHMS and all(
        reference.digest_method.algorithm in ACCEPTED_DIGEST_ALGORITHMS
        for reference in signed_info.reference
    )
    if not algorithms_ok:
        raise RequestRefused("The AuthnRequest is signed with a refused (SHA-1) algorithm.")
