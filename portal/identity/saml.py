"""SAML 2.0 sign-in and single logout: the portal as a Service Provider (python3-saml).

python3-saml checks signatures, algorithms, Destination, Recipient, Audience and validity
times. What it leaves to us is done here: Destination, Recipient and Audience must name this SP
exactly (:class:`AddressedResponse`), the answer must be to a request this browser made
(InResponseTo), an assertion is accepted once only (database, across processes), the person
lands only on a path of this site (:mod:`portal.identity.landing`), and no hostile input gets
further than a 400.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import secrets
from typing import NoReturn

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils, OneLogin_Saml2_ValidationError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from portal.audit import record
from portal.i18n import _
from portal.identity.landing import landing, return_path
from portal.identity.language_choice import browser_language
from portal.identity.models import SamlAssertionUse, SamlPendingRequest
from portal.identity.provisioning import provision_user
from portal.identity.saml_config import PERSISTENT, load_config
from portal.refusals import MALFORMED, TOO_LARGE, Refusal
from portal.security import PUBLIC

log = logging.getLogger(__name__)

REQUEST_COOKIE = "portal_saml_request"
PENDING_LIFETIME = dt.timedelta(minutes=15)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refuse(reason: str, refusal: Refusal) -> NoReturn:
    """Log why a sign-in was refused (never what the assertion said), then refuse it."""
    log.warning("SAML refused: %s", reason)
    raise refusal


class AddressedResponse(OneLogin_Saml2_Response):
    """python3-saml takes a Destination that only starts with the ACS URL, a Recipient that only
    contains it, and an assertion with no Audience at all. An answer the IdP addressed to another
    service (``/saml/acs-staging``, another site) must not sign anyone in here: the Web SSO
    profile wants the ACS URL exactly and this SP in every AudienceRestriction."""

    def is_valid(self, request_data, request_id=None, raise_exceptions=False):
        if not super().is_valid(request_data, request_id, raise_exceptions):
            return False
        try:
            self._check_addressed_to_this_sp()
        except OneLogin_Saml2_ValidationError as error:
            self._error = str(error)
            if raise_exceptions:
                raise
            return False
        return True

    def _check_addressed_to_this_sp(self) -> None:
        sp = self._settings.get_sp_data()
        acs_url = OneLogin_Saml2_Utils.normalize_url(sp["assertionConsumerService"]["url"])
        destination = self.document.get("Destination")
        if destination is not None and OneLogin_Saml2_Utils.normalize_url(destination) != acs_url:
            raise OneLogin_Saml2_ValidationError(
                f"The Destination {destination} is not this SP's ACS URL",
                OneLogin_Saml2_ValidationError.WRONG_DESTINATION,
            )
        for data in self._query_assertion(
            "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
        ):
            recipient = data.get("Recipient")
            if data.getparent().get("Method") == Constants.CM_BEARER and (
                recipient is None or OneLogin_Saml2_Utils.normalize_url(recipient) != acs_url
            ):
                raise OneLogin_Saml2_ValidationError(
                    f"The Recipient {recipient} is not this SP's ACS URL",
                    OneLogin_Saml2_ValidationError.WRONG_SUBJECTCONFIRMATION,
                )
        restrictions = self._query_assertion("/saml:Conditions/saml:AudienceRestriction")
        if not restrictions or any(
            sp["entityId"]
            not in [node.text for node in restriction.findall("saml:Audience", Constants.NSMAP)]
            for restriction in restrictions
        ):
            raise OneLogin_Saml2_ValidationError(
                "The assertion is not restricted to this SP as its audience",
                OneLogin_Saml2_ValidationError.WRONG_AUDIENCE,
            )


class ServiceProviderAuth(OneLogin_Saml2_Auth):
    response_class = AddressedResponse


@view_config(route_name="saml_login", permission=PUBLIC, renderer="identity/choose_idp.jinja2")
def login(request):
    config = request.registry["saml"]
    next_path = return_path(request.GET.get("next")) or "/"
    idp = config.idp(request.GET.get("idp", "")) or (
        config.idps[0] if len(config.idps) == 1 else None
    )
    if idp is None:
        if not config.idps:
            refuse(
                "no identity provider configured",
                Refusal(MALFORMED, _("Sign-in is not available at the moment.")),
            )
        return {"idps": config.idps, "next": next_path}
    settings = copy.deepcopy(idp.settings)
    loa = request.GET.get("loa")
    if loa in config.loa_levels:
        settings["security"]["requestedAuthnContext"] = [loa]
        settings["security"]["requestedAuthnContextComparison"] = "minimum"
    auth = OneLogin_Saml2_Auth(config.request_data(request), old_settings=settings)
    url = auth.login(return_to=next_path)
    token = secrets.token_urlsafe(32)
    request.dbsession.add(
        SamlPendingRequest(
            key=_key(token),
            request_id=auth.get_last_request_id(),
            idp_entity_id=idp.entity_id,
            relay_state=next_path,
            created_at=request.clock.now(),
        )
    )
    response = HTTPSeeOther(url)
    # SameSite=None: the IdP's answer is a cross-site POST. Path limits it to the ACS.
    response.set_cookie(
        REQUEST_COOKIE,
        token,
        max_age=int(PENDING_LIFETIME.total_seconds()),
        path="/saml/acs",
        httponly=True,
        secure=True,
        samesite="None",
    )
    return response


@view_config(route_name="saml_acs", request_method="POST", permission=PUBLIC, require_csrf=False)
def acs(request):
    """The IdP's answer (HTTP-POST binding). Cross-site by nature, so CSRF protection here is
    the signed answer matching a pending request of this browser."""
    config = request.registry["saml"]
    if (request.content_length or 0) > config.max_response_bytes:
        refuse("response too large", Refusal(TOO_LARGE, _("The sign-in answer was too large.")))
    saml_response = request.POST.get("SAMLResponse", "")
    if not saml_response:
        refuse("no SAMLResponse", Refusal(MALFORMED, _("The sign-in answer was missing.")))
    pending = _pending(request)
    if pending is None and not config.allow_idp_initiated:
        refuse(
            "no pending request for this browser",
            Refusal(
                MALFORMED,
                _(
                    "This sign-in answer does not belong to a sign-in started here. "
                    "Please sign in again."
                ),
            ),
        )
    idp = config.idp(pending.idp_entity_id) if pending else _issuer_idp(config, saml_response)
    if idp is None:
        refuse(
            "unknown identity provider",
            Refusal(MALFORMED, _("The sign-in answer came from an unknown provider.")),
        )
    auth = ServiceProviderAuth(config.request_data(request), old_settings=idp.settings)
    try:
        auth.process_response(request_id=pending.request_id if pending else None)
    except Exception as error:  # hostile input: DOCTYPE, bad base64, not XML...
        refuse(
            f"unreadable response ({type(error).__name__})",
            Refusal(MALFORMED, _("The sign-in answer could not be read.")),
        )
    if auth.get_errors() or not auth.is_authenticated():
        refuse(
            f"invalid response: {auth.get_last_error_reason()}",
            Refusal(MALFORMED, _("The sign-in answer was not valid. Please sign in again.")),
        )
    in_response_to = auth.get_last_response_in_response_to()
    if pending and in_response_to != pending.request_id:
        refuse(
            "InResponseTo does not match",
            Refusal(MALFORMED, _("This sign-in answer was not for this browser.")),
        )
    if not pending and in_response_to:
        refuse(
            "answer to a request this browser did not make",
            Refusal(MALFORMED, _("This sign-in answer was not for this browser.")),
        )
    if auth.get_nameid_format() != PERSISTENT:
        refuse(
            "NameID is not persistent",
            Refusal(MALFORMED, _("The identity provider did not send a persistent identifier.")),
        )
    _consume_assertion(request, auth, idp.entity_id)
    loa = (auth.get_last_authn_contexts() or [None])[0]
    signed_in_as, signed_in_at = request.session.get("user_id"), request.session.get("loa")
    user = provision_user(
        request.dbsession,
        request.pii,
        config.attributes,
        idp.entity_id,
        auth.get_nameid(),
        auth.get_attributes(),
        locale=browser_language(request).code,
    )
    user.last_login_at = request.clock.now()
    if pending is not None:
        request.dbsession.delete(pending)
    session = request.session
    session.rotate()
    session.clear()
    session.update(
        {
            "user_id": user.id,
            "idp": idp.entity_id,
            "name_id": auth.get_nameid(),
            "session_index": auth.get_session_index(),
            "loa": loa,
        }
    )
    log.info("signed in user=%s loa=%s", user.id, loa)
    # the same person signing in again at a higher level, as a page needing it asked them to
    stepped_up = signed_in_as == user.id and config.loa_rank(loa) > config.loa_rank(signed_in_at)
    record(
        request.dbsession,
        "identity.stepped_up" if stepped_up else "identity.signed_in",
        actor_id=user.id,
        details={"loa": loa, "idp": idp.entity_id}
        | ({"previous_loa": signed_in_at} if stepped_up else {}),
    )
    wanted = pending.relay_state if pending else request.POST.get("RelayState")
    response = HTTPSeeOther(landing(request, user, wanted))
    response.delete_cookie(REQUEST_COOKIE, path="/saml/acs")
    return response


def _pending(request) -> SamlPendingRequest | None:
    token = request.cookies.get(REQUEST_COOKIE)
    if not token or len(token) > 100:
        return None
    pending = request.dbsession.get(SamlPendingRequest, _key(token))
    if pending is None or request.clock.now() - pending.created_at > PENDING_LIFETIME:
        return None
    return pending


def _issuer_idp(config, saml_response: str):
    """For IdP-initiated sign-in only: the IdP named as Issuer (its signature is checked next)."""
    for idp in config.idps:
        try:
            response = OneLogin_Saml2_Response(OneLogin_Saml2_Settings(idp.settings), saml_response)
            if idp.entity_id in response.get_issuers():
                return idp
        except Exception:  # unreadable: refused by the caller
            return None
    return None


def _consume_assertion(request, auth, idp_entity_id: str) -> None:
    """Record the assertion id; a second use, by any process, is refused."""
    assertion_id = auth.get_last_assertion_id()
    not_on_or_after = auth.get_last_assertion_not_on_or_after()
    expires = (
        dt.datetime.fromtimestamp(not_on_or_after, dt.UTC)
        if not_on_or_after
        else request.clock.now() + dt.timedelta(hours=1)
    ) + dt.timedelta(minutes=10)
    dbsession = request.dbsession
    try:
        with dbsession.begin_nested():
            dbsession.add(
                SamlAssertionUse(
                    assertion_id=assertion_id, idp_entity_id=idp_entity_id, expires_at=expires
                )
            )
    except IntegrityError:
        refuse(
            "assertion replayed",
            Refusal(
                MALFORMED, _("This sign-in answer has already been used. Please sign in again.")
            ),
        )


@view_config(route_name="saml_sls", permission=PUBLIC, require_csrf=False)
def sls(request):
    """Single Logout, HTTP-Redirect binding: the IdP's answer to our logout, or its own request."""
    config = request.registry["saml"]
    session = request.session
    if "SAMLResponse" in request.GET:
        idp = config.idp(session.get("logout_idp", ""))
        if idp is None:
            refuse(
                "logout response without a pending logout",
                Refusal(MALFORMED, _("This sign-out answer was not expected.")),
            )
        auth = OneLogin_Saml2_Auth(config.request_data(request), old_settings=idp.settings)
        try:
            auth.process_slo(keep_local_session=True, request_id=session.get("logout_request_id"))
        except Exception as error:
            refuse(
                f"unreadable logout response ({type(error).__name__})",
                Refusal(MALFORMED, _("The sign-out answer could not be read.")),
            )
        if auth.get_errors():
            refuse(
                f"invalid logout response: {auth.get_last_error_reason()}",
                Refusal(MALFORMED, _("The sign-out answer was not valid.")),
            )
        session.pop("logout_request_id", None)
        session.pop("logout_idp", None)
        session.flash(request.localizer.translate(_("You have signed out.")))
        return HTTPSeeOther(request.route_url("home"))
    if "SAMLRequest" in request.GET:
        return _idp_initiated_logout(request, config, session)
    refuse("sls without a message", Refusal(MALFORMED, _("There is nothing to do here.")))


def _idp_initiated_logout(request, config, session):
    for idp in config.idps:
        auth = OneLogin_Saml2_Auth(config.request_data(request), old_settings=idp.settings)
        try:
            redirect = auth.process_slo(keep_local_session=True)
        except Exception as error:  # unreadable: refused below unless another IdP reads it
            log.info("logout request not readable for %s: %s", idp.entity_id, type(error).__name__)
            continue
        if auth.get_errors():
            log.info(
                "logout request invalid for %s: %s", idp.entity_id, auth.get_last_error_reason()
            )
            continue
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(auth.get_last_request_xml())
        if session.get("idp") == idp.entity_id and session.get("name_id") == name_id:
            log.info("IdP-initiated logout of user=%s", session.get("user_id"))
            record(
                request.dbsession,
                "identity.signed_out",
                actor_id=session.get("user_id"),
                details={"by": "idp"},
            )
            session.invalidate()
        return HTTPSeeOther(redirect)
    refuse("invalid logout request", Refusal(MALFORMED, _("The sign-out request was not valid.")))


@view_config(
    route_name="logout", request_method="GET", permission=PUBLIC, renderer="identity/logout.jinja2"
)
def logout_confirm(request):
    return {}


@view_config(route_name="logout", request_method="POST", permission=PUBLIC)
def logout(request):
    """End the portal session and, where the IdP supports it, start Single Logout."""
    config = request.registry["saml"]
    session = request.session
    idp = config.idp(session.get("idp", ""))
    name_id, session_index, user_id = (
        session.get("name_id"),
        session.get("session_index"),
        session.get("user_id"),
    )
    session.invalidate()
    if user_id is not None:
        log.info("signed out user=%s", user_id)
        record(request.dbsession, "identity.signed_out", actor_id=user_id)
    if idp is None or not idp.slo_url or name_id is None:
        session.flash(request.localizer.translate(_("You have signed out.")))
        return HTTPSeeOther(request.route_url("home"))
    auth = OneLogin_Saml2_Auth(config.request_data(request), old_settings=idp.settings)
    url = auth.logout(
        return_to=request.route_url("home"),
        name_id=name_id,
        session_index=session_index,
        name_id_format=PERSISTENT,
    )
    session["logout_request_id"] = auth.get_last_request_id()
    session["logout_idp"] = idp.entity_id
    return HTTPSeeOther(url)


@view_config(route_name="saml_metadata", permission=PUBLIC)
def metadata(request):
    """The SP's metadata, signed with its key, for the IdP's administrators."""
    config = request.registry["saml"]
    return Response(config_metadata(config), content_type="application/samlmetadata+xml")


def config_metadata(config) -> bytes:
    base = config.idps[0].settings if config.idps else None
    if base is None:
        return b""
    settings = OneLogin_Saml2_Settings(base, sp_validation_only=True)
    xml = settings.get_sp_metadata()
    signed = OneLogin_Saml2_Metadata.sign_metadata(
        xml, config.key, config.cert, Constants.RSA_SHA256, Constants.SHA256
    )
    return signed if isinstance(signed, bytes) else signed.encode()


def purge_expired(dbsession, now: dt.datetime) -> None:
    """Forget consumed assertions past their validity and pending requests never answered."""
    dbsession.execute(delete(SamlAssertionUse).where(SamlAssertionUse.expires_at < now))
    dbsession.execute(
        delete(SamlPendingRequest).where(SamlPendingRequest.created_at < now - PENDING_LIFETIME)
    )


def includeme(config) -> None:
    sp = load_config(config.get_settings())
    config.registry["saml"] = sp
    for idp in sp.idps:
        sso = idp.settings["idp"]["singleSignOnService"]["url"]
        config.add_form_target(sso.split("/", 3)[0] + "//" + sso.split("/", 3)[2])
    config.include("portal.identity.pii")
    config.add_route("saml_login", "/saml/login")
    config.add_route("saml_acs", "/saml/acs")
    config.add_route("saml_sls", "/saml/sls")
    config.add_route("saml_metadata", "/saml/metadata")
