"""The development IdP's web endpoints, as a small WebOb application."""

import re
from importlib import resources

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from webob import Request, Response
from webob.dec import wsgify

from portal.devidp import pages
from portal.devidp.idp import (
    LOA_SUBSTANTIAL,
    SLO_REDIRECT_PATH,
    SSO_POST_PATH,
    SSO_REDIRECT_PATH,
    DevIdP,
    ReceivedMessage,
    RequestRefused,
    SPMetadataUnavailable,
    issuer_of,
)
from portal.devidp.personas import PERSONAS_BY_ID

LOGOUT_PATH = re.compile(r"^/logout/(?P<persona_id>[A-Za-z0-9_-]+)$")
STATIC_FILES = {
    pages.SCRIPT_PATH: ("autosubmit.js", "text/javascript"),
    pages.STYLE_PATH: ("devidp.css", "text/css"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/html", charset="utf-8")


def refused(exc: Exception, status: int = 400) -> Response:
    return html(pages.message_page("Request refused", str(exc)), status)


class DevIdPApp:
    """Routes requests to the :class:`DevIdP`; refusals become clear 4xx pages, never 500s."""

    def __init__(self, idp: DevIdP):
        self.idp = idp

    @wsgify
    def __call__(self, request: Request) -> Response:
        try:
            response = self.dispatch(request)
        except RequestRefused as exc:
            response = refused(exc)
        except SPMetadataUnavailable as exc:
            response = refused(exc, 503)
        response.headers.update(SECURITY_HEADERS)
        return response

    def dispatch(self, request: Request) -> Response:
        route = (request.method, request.path_info)
        if route == ("GET", "/"):
            return html(pages.home(self.idp.sessions()))
        if route == ("GET", "/metadata"):
            return Response(
                self.idp.metadata_xml(),
                content_type="application/samlmetadata+xml",
                charset="utf-8",
            )
        if route == ("GET", SSO_REDIRECT_PATH):
            return self.picker(ReceivedMessage.from_query(request.GET, BINDING_HTTP_REDIRECT))
        if route == ("POST", SSO_POST_PATH):
            return self.picker(ReceivedMessage.from_query(request.POST, BINDING_HTTP_POST))
        if route == ("POST", pages.RESPOND_PATH):
            return self.respond(request)
        if route == ("GET", SLO_REDIRECT_PATH):
            return self.single_logout(request)
        logout = LOGOUT_PATH.match(request.path_info)
        if request.method == "GET" and logout:
            return redirect(self.idp.logout_request(logout["persona_id"]))
        if request.method == "GET" and request.path_info in STATIC_FILES:
            return static_file(request.path_info)
        return html(pages.message_page("Not found", "There is no such page."), 404)

    def picker(self, message: ReceivedMessage) -> Response:
        request = self.idp.verify_authn_request(message)
        return html(pages.persona_picker(message, issuer_of(request)))

    def respond(self, request: Request) -> Response:
        form = request.POST
        binding = form.get("binding", BINDING_HTTP_REDIRECT)
        if binding not in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
            raise RequestRefused("Unknown binding.")
        message = ReceivedMessage.from_query(form, binding)
        persona_id, loa = form.get("persona"), form.get("loa", LOA_SUBSTANTIAL)
        if persona_id not in PERSONAS_BY_ID:
            authn_request = self.idp.verify_authn_request(message)
            body = pages.persona_picker(
                message,
                issuer_of(authn_request),
                error="Choose the person to sign in as.",
                chosen_loa=loa,
            )
            return html(body, 400)
        acs_url, saml_response, relay_state = self.idp.respond(form, persona_id, loa, binding)
        return html(pages.post_to_sp(acs_url, saml_response, relay_state))

    def single_logout(self, request: Request) -> Response:
        if "SAMLRequest" in request.GET:
            return redirect(self.idp.logout_response(request.GET))
        self.idp.accept_logout_response(request.GET)
        return html(pages.message_page("Signed out", "The service confirmed the logout."))


def redirect(location: str) -> Response:
    return Response(status=302, location=location)


def static_file(path: str) -> Response:
    name, content_type = STATIC_FILES[path]
    body = resources.files("portal.devidp").joinpath("static", name).read_bytes()
    return Response(body, content_type=content_type, charset="utf-8")
