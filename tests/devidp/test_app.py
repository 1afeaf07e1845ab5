"""The browser-facing pages: persona picker, POST to the SP, logout and clear refusals."""

import base64
from urllib.parse import urlsplit

import pytest
from saml2 import BINDING_HTTP_POST
from webtest import TestApp

from portal.devidp.app import DevIdPApp
from portal.devidp.idp import LOA_HIGH, LOA_SUBSTANTIAL, DevIdP
from portal.devidp.personas import PERSONAS
from tests.devidp.conftest import SP_ACS_URL, attributes_of, query_of


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_metadata_is_served_and_written_to_the_state_dir(app, pysaml2_world):
    response = app.get("/metadata")

    assert response.content_type == "application/samlmetadata+xml"
    assert 'entityID="http://idp.example.test/metadata"' in response.text
    assert 'WantAuthnRequestsSigned="true"' in response.text
    assert "sha1" not in response.text
    assert pysaml2_world.idp.metadata_path.read_text() == response.text


def test_picker_lists_every_persona_and_defaults_to_substantial(app, pysaml2_world):
    _, url = pysaml2_world.login()

    page = app.get(path_of(url))

    form = page.forms[0]
    assert [option[0] for option in form.fields["persona"][0].options] == [
        persona.id for persona in PERSONAS
    ]
    assert form["loa"].value == LOA_SUBSTANTIAL
    assert page.html.find("legend", string="Sign in as")
    assert "<script" not in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_submitting_the_picker_posts_a_signed_response_to_the_acs(app, pysaml2_world):
    request_id, url = pysaml2_world.login(relay_state="/bills?x=1&y=2")
    form = app.get(path_of(url)).forms[0]
    form["persona"] = "citizen-ben"
    form["loa"] = LOA_HIGH

    page = form.submit()

    post = page.forms[0]
    assert post.action == SP_ACS_URL and post.method.lower() == "post"
    assert post["RelayState"].value == "/bills?x=1&y=2"
    assert page.html.find("button", string="Continue")
    assert page.html.find("script")["src"] == "/static/autosubmit.js"
    assert page.html.find("script", src=None) is None
    response = pysaml2_world.accept(post["SAMLResponse"].value, request_id)
    assert attributes_of(response)["uid"] == ["citizen-ben"]
    assert response.authn_info()[0][0] == LOA_HIGH
    assert app.get("/static/autosubmit.js").content_type == "text/javascript"


def test_relay_state_is_escaped_on_every_page(app, pysaml2_world):
    hostile = '"><script>alert(1)</script>'
    _, url = pysaml2_world.login(relay_state=hostile)

    picker = app.get(path_of(url))
    picker.forms[0]["persona"] = "citizen-ana"
    post_page = picker.forms[0].submit()

    for page in (picker, post_page):
        assert hostile not in page.text
        assert "&lt;script&gt;" in page.text
        assert page.forms[0]["RelayState"].value == hostile


def test_submitting_without_a_persona_shows_the_picker_again(app, pysaml2_world):
    _, url = pysaml2_world.login()
    form = app.get(path_of(url)).forms[0]

    page = form.submit(status=400)

    assert "Choose the person to sign in as." in page.html.find(role="alert").text
    assert page.forms[0]["SAMLRequest"].value == form["SAMLRequest"].value


def test_post_binding_request_is_accepted(app, pysaml2_world):
    request_id, fields = pysaml2_world.login(binding=BINDING_HTTP_POST)
    saml_request = fields.split('name="SAMLRequest" value="')[1].split('"')[0]

    page = app.post("/sso/post", {"SAMLRequest": saml_request, "RelayState": "/home"})

    form = page.forms[0]
    form["persona"] = "admin-ada"
    post = form.submit().forms[0]
    response = pysaml2_world.accept(post["SAMLResponse"].value, request_id)
    assert attributes_of(response)["groups"] == ["admin", "clerk:revenue"]


def test_unsigned_authn_request_gets_a_clear_400(app, pysaml2_world):
    _, url = pysaml2_world.login(sign=False)

    page = app.get(path_of(url), status=400)

    assert "not signed" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/sso/redirect",
        "/sso/redirect?SAMLRequest=%25%25%25&SigAlg=x&Signature=y",
        "/sso/redirect?SAMLRequest=bm90IGRlZmxhdGVk&Signature=eA%3D%3D"
        "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256",
        "/slo/redirect",
        "/slo/redirect?SAMLRequest=%25%25%25",
        "/slo/redirect?SAMLResponse=%25%25%25",
        "/logout/nobody",
        "/logout/citizen-ana",
    ],
)
def test_junk_gets_a_400_page_not_a_500(app, path):
    page = app.get(path, status=400)

    assert page.content_type == "text/html"
    assert "Request refused" in page.text


def test_junk_posts_get_a_400_page(app):
    app.post("/sso/post", {"SAMLRequest": base64.b64encode(b"<junk").decode()}, status=400)
    app.post("/sso/respond", {"SAMLRequest": "x", "binding": "urn:nope"}, status=400)
    app.post("/sso/respond", {"persona": "citizen-ana"}, status=400)


def test_unknown_page_is_404(app):
    app.get("/nope", status=404)


def test_idp_initiated_logout_redirects_to_the_sp(app, pysaml2_world):
    _, url = pysaml2_world.login()
    pysaml2_world.idp.respond(url, "citizen-ana")
    assert "Ana Novak" in app.get("/").text

    response = app.get("/logout/citizen-ana", status=302)

    assert "SAMLRequest" in query_of(response.location)
    assert "Nobody is signed in." in app.get("/").text


def test_sp_metadata_url_not_reachable_yet_gives_503(tmp_path, pysaml2_world):
    idp = DevIdP(tmp_path / "late", sp_metadata="http://127.0.0.1:9/saml/metadata")
    _, url = pysaml2_world.login()

    page = TestApp(DevIdPApp(idp)).get(path_of(url), status=503)

    assert "Start the portal" in page.text


def test_sp_metadata_that_is_not_saml_gives_503(tmp_path, pysaml2_world):
    idp = DevIdP(tmp_path / "broken", sp_metadata="<html><body>Server Error</body></html>")
    _, url = pysaml2_world.login()

    page = TestApp(DevIdPApp(idp)).get(path_of(url), status=503)

    assert "not usable SAML metadata" in page.text
