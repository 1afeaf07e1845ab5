"""Forged, tampered, replayed and hostile sign-in answers are refused at the ACS.

A refusal is a clear 4xx page, a "SAML refused" warning naming the check that refused, and no
session and no account. Forgeries are re-signed with the real IdP key wherever the attack does
not itself need a broken signature, so the one fault a test puts in is the only reason to refuse.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging

import lxml.etree
import pytest
import webtest
from sqlalchemy import func, select, update

import portal
from portal.devidp.idp import LOA_HIGH, DevIdP
from portal.devidp.keys import ensure_key_pair
from portal.identity.models import SamlPendingRequest, User
from tests import saml_tampering as forge
from tests.conftest import BASE_URL, start_login
from tests.functional.test_sign_in_landing import OPEN_REDIRECTS

BROWSER = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}

NOT_VALID = "The sign-in answer was not valid. Please sign in again."
NOT_READABLE = "The sign-in answer could not be read."
TOO_LARGE = "The sign-in answer was too large."
NOT_FOR_THIS_BROWSER = "This sign-in answer was not for this browser."
NOT_STARTED_HERE = "This sign-in answer does not belong to a sign-in started here."
ALREADY_USED = "This sign-in answer has already been used."

NOT_SIGNED = "The Assertion of the Response is not signed"
BAD_SIGNATURE = "Signature validation failed"
ONE_ASSERTION = "SAML Response must contain 1 assertion"
NO_SUBJECT_CONFIRMATION = "A valid SubjectConfirmation was not found"
NOT_OUR_ACS = "is not this SP's ACS URL"
NOT_OUR_AUDIENCE = "not restricted to this SP as its audience"

CONDITIONS = "saml:Assertion/saml:Conditions"
CONFIRMATION = "saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
TWO_MINUTES = dt.timedelta(minutes=2)


@pytest.fixture(autouse=True)
def _capture_saml_log(caplog):
    caplog.set_level(logging.INFO, logger="portal.identity.saml")


@pytest.fixture(scope="module")
def assertion_signed_app(app_settings, wsgi_app):
    """The portal set up for an IdP that signs its assertions but not the whole answer."""
    return portal.main({}, **{**app_settings, "saml.want_messages_signed": "false"})


@pytest.fixture(scope="module")
def idp_initiated_app(app_settings, wsgi_app):
    """The portal set up to accept sign-ins started at the IdP."""
    return portal.main({}, **{**app_settings, "saml.allow_idp_initiated": "true"})


@pytest.fixture
def assertion_signed(assertion_signed_app, engine):
    return webtest.TestApp(assertion_signed_app, extra_environ=BROWSER)


@pytest.fixture(params=["signed-answers", "signed-assertions-only"])
def browser(request, testapp):
    """A browser on the portal as configured by default, and as set up for an IdP that signs
    only its assertions, where the assertion signature is the only line of defence."""
    if request.param == "signed-answers":
        return testapp
    return request.getfixturevalue("assertion_signed")


@pytest.fixture(scope="module")
def rogue_idp(tmp_path_factory, keys_dir, wsgi_app, devidp) -> DevIdP:
    """An IdP claiming the trusted IdP's entity id, with a key of its own."""
    return DevIdP(
        tmp_path_factory.mktemp("rogue-idp"), devidp.base_url, str(keys_dir / "sp-metadata.xml")
    )


@pytest.fixture(scope="module")
def rogue_key_pair(tmp_path_factory):
    return ensure_key_pair(tmp_path_factory.mktemp("rogue-key"))


def answer_to_login(browser, devidp, next_path="/account", persona="citizen-ana"):
    """Start a sign-in in ``browser``; return the IdP's genuine answer to it, decoded."""
    query = start_login(browser, next_path)
    _, saml_response, _ = devidp.respond(query, persona)
    return forge.decode(saml_response)


def unsolicited(root, devidp):
    """The answer as the IdP would send it unasked (IdP-initiated): answering no request."""
    del root.attrib["InResponseTo"]
    del forge.find(root, CONFIRMATION).attrib["InResponseTo"]
    forge.resign(root, devidp.key_path, devidp.cert_path)
    return root


def post_answer(browser, saml_response: str, relay_state: str = ""):
    return browser.post(
        "/saml/acs", {"SAMLResponse": saml_response, "RelayState": relay_state}, expect_errors=True
    )


def assert_refused(answer, browser, caplog, dbsession, reason, says=NOT_VALID, status=400, users=0):
    assert answer.status_int == status, answer.text[:3000]
    assert says in answer.text
    refusals = [
        record.getMessage()
        for record in caplog.records
        if record.name == "portal.identity.saml"
        and record.levelno == logging.WARNING
        and record.getMessage().startswith("SAML refused")
    ]
    assert any(reason in message for message in refusals), refusals
    assert_signed_out(browser)
    assert dbsession.scalar(select(func.count()).select_from(User)) == users


def assert_signed_out(browser):
    page = browser.get("/account", status=303)
    assert page.location.startswith(f"{BASE_URL}/saml/login?")


def assert_signed_in(browser):
    browser.get("/account", status=200)


# Controls: the forging helpers make answers the portal accepts, so each refusal below is
# caused by the fault the test put in.


def test_genuine_answer_re_signed_with_the_idp_key_is_accepted(testapp, devidp, departments):
    root = answer_to_login(testapp, devidp)
    forge.resign(root, devidp.key_path, devidp.cert_path)
    answer = post_answer(testapp, forge.encode(root))
    assert answer.status_int == 303, answer.text
    assert_signed_in(testapp)


def test_answer_with_only_the_assertion_signed_is_accepted_when_so_configured(
    assertion_signed, devidp, departments
):
    root = answer_to_login(assertion_signed, devidp)
    forge.unsign(root)
    answer = post_answer(assertion_signed, forge.encode(root))
    assert answer.status_int == 303, answer.text
    assert_signed_in(assertion_signed)


# 1, 2. Missing signatures


def test_unsigned_answer_is_refused(browser, devidp, dbsession, caplog):
    root = answer_to_login(browser, devidp)
    forge.strip_signatures(root)
    answer = post_answer(browser, forge.encode(root))
    assert_refused(answer, browser, caplog, dbsession, NOT_SIGNED)


def test_answer_without_its_message_signature_is_refused(testapp, devidp, dbsession, caplog):
    root = answer_to_login(testapp, devidp)
    forge.unsign(root)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(answer, testapp, caplog, dbsession, "The Message of the Response is not signed")


@pytest.mark.parametrize("message_signature", ["re-signed by the IdP", "left stale"])
def test_answer_whose_assertion_is_not_signed_is_refused(
    browser, devidp, dbsession, caplog, message_signature
):
    root = answer_to_login(browser, devidp)
    forge.unsign(forge.assertion_of(root))
    if message_signature == "re-signed by the IdP":
        forge.sign(root, devidp.key_path, devidp.cert_path)
    answer = post_answer(browser, forge.encode(root))
    assert_refused(answer, browser, caplog, dbsession, NOT_SIGNED)


# 3. XML signature wrapping. Where the attacker cannot keep the message signature valid, it is
# dropped: with signed assertions only, the assertion signature is then all that is left.


def evil_assertion_first(root, same_id=False):
    """An unsigned assertion naming someone else, before the signed one."""
    forge.unsign(root)
    assertion = forge.assertion_of(root)
    evil = forge.evil_twin(assertion)
    if same_id:
        evil.set("ID", assertion.get("ID"))
    assertion.addprevious(evil)
    return root


def signed_assertion_in_extensions(root):
    """The signed assertion moved into the answer's Extensions, an evil one in its place."""
    forge.unsign(root)
    assertion = forge.assertion_of(root)
    assertion.addprevious(forge.evil_twin(assertion))
    extensions = lxml.etree.Element(f"{{{forge.SAMLP}}}Extensions")
    forge.find(root, "saml:Issuer").addnext(extensions)
    extensions.append(assertion)
    return root


def signed_assertion_in_signature_object(root):
    """An evil assertion with the signed one's ID carries its signature, and the signed
    assertion inside that signature's Object."""
    forge.unsign(root)
    assertion = forge.assertion_of(root)
    evil = forge.evil_twin(assertion)
    evil.set("ID", assertion.get("ID"))
    assertion.addprevious(evil)
    signature = forge.unsign(assertion)
    forge.find(evil, "saml:Issuer").addnext(signature)
    lxml.etree.SubElement(signature, f"{{{forge.DS}}}Object").append(assertion)
    return root


def signed_answer_in_signature_object(root):
    """An evil answer carries the real answer's signature, and the real answer in its Object."""
    evil = lxml.etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
    evil.set("ID", "_evil" + root.get("ID"))
    signature = forge.unsign(root)
    evil.append(copy.deepcopy(forge.find(root, "saml:Issuer")))
    evil.append(signature)
    evil.append(copy.deepcopy(forge.find(root, "samlp:Status")))
    evil.append(forge.evil_twin(forge.assertion_of(root)))
    lxml.etree.SubElement(signature, f"{{{forge.DS}}}Object").append(root)
    return evil


def signed_answer_in_evil_advice(root):
    """An evil answer whose unsigned assertion holds the whole signed answer in its Advice."""
    evil = lxml.etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
    evil.set("ID", "_evil" + root.get("ID"))
    evil.append(copy.deepcopy(forge.find(root, "saml:Issuer")))
    evil.append(copy.deepcopy(forge.find(root, "samlp:Status")))
    assertion = forge.evil_twin(forge.assertion_of(root))
    advice = lxml.etree.Element(f"{{{forge.SAML}}}Advice")
    forge.find(assertion, "saml:Conditions").addnext(advice)
    advice.append(root)
    evil.append(assertion)
    return evil


def signature_moved_to_the_answer(root):
    """The assertion's signature, still valid over the assertion, offered as the answer's."""
    forge.unsign(root)
    signature = forge.unsign(forge.assertion_of(root))
    forge.find(root, "saml:Issuer").addnext(signature)
    return root


def signature_over_hidden_assertion(root):
    """An evil assertion carries the real signature, whose Reference points at the real
    assertion hidden in the evil one's Advice: a valid signature over something else."""
    forge.unsign(root)
    assertion = forge.assertion_of(root)
    evil = forge.evil_twin(assertion)
    assertion.addprevious(evil)
    signature = forge.unsign(assertion)
    forge.find(evil, "saml:Issuer").addnext(signature)
    advice = lxml.etree.Element(f"{{{forge.SAML}}}Advice")
    forge.find(evil, "saml:Conditions").addnext(advice)
    advice.append(assertion)
    return root


@pytest.mark.parametrize(
    ("wrap", "reason"),
    [
        pytest.param(evil_assertion_first, ONE_ASSERTION, id="a-evil-assertion-first"),
        pytest.param(
            lambda root: evil_assertion_first(root, same_id=True),
            ONE_ASSERTION,
            id="a-evil-assertion-first-with-same-id",
        ),
        pytest.param(signed_assertion_in_extensions, ONE_ASSERTION, id="b-moved-to-extensions"),
        pytest.param(
            signed_assertion_in_signature_object, ONE_ASSERTION, id="b-moved-to-signature-object"
        ),
        pytest.param(
            signed_answer_in_signature_object, ONE_ASSERTION, id="c-answer-in-signature-object"
        ),
        pytest.param(signed_answer_in_evil_advice, ONE_ASSERTION, id="c-answer-in-evil-advice"),
        pytest.param(
            signature_moved_to_the_answer,
            "Found an invalid Signed Element",
            id="d-assertion-signature-as-message-signature",
        ),
        pytest.param(
            signature_over_hidden_assertion, ONE_ASSERTION, id="d-reference-to-hidden-assertion"
        ),
    ],
)
def test_signature_wrapping_is_refused(browser, devidp, dbsession, caplog, wrap, reason):
    root = answer_to_login(browser, devidp)
    answer = post_answer(browser, forge.encode(wrap(root)))
    assert_refused(answer, browser, caplog, dbsession, reason)


# 4. Untrusted signers


def test_answer_from_an_untrusted_idp_is_refused(browser, devidp, rogue_idp, dbsession, caplog):
    answer = post_answer(browser, forge.encode(answer_to_login(browser, rogue_idp)))
    assert_refused(answer, browser, caplog, dbsession, BAD_SIGNATURE)


def test_answer_signed_by_another_key_under_the_idp_certificate_is_refused(
    browser, devidp, rogue_key_pair, dbsession, caplog
):
    root = answer_to_login(browser, devidp)
    rogue_key, _ = rogue_key_pair
    forge.resign(root, rogue_key, devidp.cert_path)
    answer = post_answer(browser, forge.encode(root))
    assert_refused(answer, browser, caplog, dbsession, BAD_SIGNATURE)


# 5. Changes after signing


def change_attribute(root):
    forge.find(
        forge.assertion_of(root), ".//saml:Attribute[@Name='givenName']/saml:AttributeValue"
    ).text = "Mallory"


def change_name_id(root):
    forge.find(forge.assertion_of(root), "saml:Subject/saml:NameID").text = "admin-ada"


def raise_level_of_assurance(root):
    forge.find(forge.assertion_of(root), ".//saml:AuthnContextClassRef").text = LOA_HIGH


@pytest.mark.parametrize("change", [change_attribute, change_name_id, raise_level_of_assurance])
@pytest.mark.parametrize(
    "portal_browser",
    [
        pytest.param("testapp", id="message-signature-left-stale"),
        pytest.param("assertion_signed", id="message-signature-dropped"),
    ],
)
def test_answer_changed_after_signing_is_refused(
    request, portal_browser, devidp, dbsession, caplog, change
):
    browser = request.getfixturevalue(portal_browser)
    root = answer_to_login(browser, devidp)
    change(root)
    if portal_browser == "assertion_signed":
        forge.unsign(root)
    answer = post_answer(browser, forge.encode(root))
    assert_refused(answer, browser, caplog, dbsession, BAD_SIGNATURE)


# 6, 7. Validity times and addressing, re-signed with the real IdP key


def set_attribute(path, name, value):
    def edit(root):
        forge.find(root, path).set(name, value)

    return edit


def set_time(path, name, offset):
    """Set a time relative to when the test runs, not when the module was collected."""

    def edit(root):
        forge.find(root, path).set(name, forge.saml_time(offset))

    return edit


def remove_audience(root):
    conditions = forge.find(root, CONDITIONS)
    conditions.remove(forge.find(conditions, "saml:AudienceRestriction"))


def set_audience(value):
    def edit(root):
        forge.find(root, ".//saml:Audience").text = value

    return edit


def add_audience_restriction_for_another_sp(root):
    """Audience restrictions all apply: this one leaves out this SP."""
    restriction = copy.deepcopy(forge.find(root, ".//saml:AudienceRestriction"))
    forge.find(restriction, "saml:Audience").text = "https://other-sp.example/saml/metadata"
    forge.find(root, CONDITIONS).append(restriction)


def expired_long_ago(root):
    for path in (CONDITIONS, CONFIRMATION):
        forge.find(root, path).set("NotOnOrAfter", forge.saml_time(-dt.timedelta(hours=1)))
    forge.find(root, CONDITIONS).set("NotBefore", forge.saml_time(-dt.timedelta(hours=2)))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(expired_long_ago, "expired", id="expired"),
        pytest.param(
            set_time(CONDITIONS, "NotOnOrAfter", -TWO_MINUTES),
            "expired",
            id="conditions-expired-beyond-clock-skew",
        ),
        pytest.param(
            set_time(CONFIRMATION, "NotOnOrAfter", -TWO_MINUTES),
            NO_SUBJECT_CONFIRMATION,
            id="subject-confirmation-expired",
        ),
        pytest.param(
            set_time(CONDITIONS, "NotBefore", TWO_MINUTES),
            "not yet valid",
            id="not-yet-valid-beyond-clock-skew",
        ),
        pytest.param(
            set_audience("https://other-sp.example/saml/metadata"),
            "is not a valid audience",
            id="audience-of-another-sp",
        ),
        pytest.param(remove_audience, NOT_OUR_AUDIENCE, id="no-audience"),
        pytest.param(
            add_audience_restriction_for_another_sp,
            NOT_OUR_AUDIENCE,
            id="also-restricted-to-another-sp",
        ),
        pytest.param(
            set_attribute(".", "Destination", "https://other-sp.example/saml/acs"),
            "instead of https://other-sp.example/saml/acs",
            id="destination-of-another-sp",
        ),
        pytest.param(
            set_attribute(".", "Destination", f"{BASE_URL}/saml/acs-staging"),
            NOT_OUR_ACS,
            id="destination-extending-ours",
        ),
        pytest.param(
            set_attribute(CONFIRMATION, "Recipient", "https://other-sp.example/saml/acs"),
            NO_SUBJECT_CONFIRMATION,
            id="recipient-of-another-sp",
        ),
        pytest.param(
            set_attribute(CONFIRMATION, "Recipient", f"{BASE_URL}/saml/acs-staging"),
            NOT_OUR_ACS,
            id="recipient-extending-ours",
        ),
        pytest.param(
            set_attribute(
                CONFIRMATION, "Recipient", f"https://other-sp.example/?next={BASE_URL}/saml/acs"
            ),
            NOT_OUR_ACS,
            id="recipient-containing-ours",
        ),
    ],
)
def test_answer_out_of_time_or_for_someone_else_is_refused(
    testapp, devidp, dbsession, caplog, edit, reason
):
    root = answer_to_login(testapp, devidp)
    edit(root)
    forge.resign(root, devidp.key_path, devidp.cert_path)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(answer, testapp, caplog, dbsession, reason)


# 8, 9. Replays and answers to requests this browser did not make


def test_replayed_assertion_is_refused(testapp, wsgi_app, devidp, departments, dbsession, caplog):
    """The second delivery comes with a pending request for the same AuthnRequest, as when an
    answer arrives twice before the first delivery is done: only the record of used assertions
    can refuse it."""
    query = start_login(testapp)
    _, saml_response, _ = devidp.respond(query, "citizen-ana")
    assert post_answer(testapp, saml_response).status_int == 303

    replayer = webtest.TestApp(wsgi_app, extra_environ=BROWSER)
    start_login(replayer)
    dbsession.execute(
        update(SamlPendingRequest).values(
            request_id=forge.decode(saml_response).get("InResponseTo")
        )
    )
    dbsession.commit()
    answer = post_answer(replayer, saml_response)
    assert_refused(
        answer, replayer, caplog, dbsession, "assertion replayed", says=ALREADY_USED, users=1
    )


def test_answer_to_another_browsers_request_is_refused(
    testapp, wsgi_app, devidp, dbsession, caplog
):
    start_login(testapp)
    other = webtest.TestApp(wsgi_app, extra_environ=BROWSER)
    root = answer_to_login(other, devidp)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(answer, testapp, caplog, dbsession, "does not match the ID of the AuthNRequest")


def test_unsolicited_answer_is_refused_while_a_sign_in_is_pending(
    testapp, devidp, dbsession, caplog
):
    """Login CSRF: an answer sent unasked, for the attacker's account, into a victim's sign-in."""
    root = unsolicited(answer_to_login(testapp, devidp), devidp)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(
        answer,
        testapp,
        caplog,
        dbsession,
        "InResponseTo does not match",
        says=NOT_FOR_THIS_BROWSER,
    )


def test_unsolicited_answer_is_refused(testapp, wsgi_app, devidp, dbsession, caplog):
    other = webtest.TestApp(wsgi_app, extra_environ=BROWSER)
    root = answer_to_login(other, devidp)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(
        answer,
        testapp,
        caplog,
        dbsession,
        "no pending request for this browser",
        says=NOT_STARTED_HERE,
    )


def test_answer_to_a_request_is_refused_without_it_where_idp_initiated_sign_in_is_allowed(
    idp_initiated_app, wsgi_app, devidp, dbsession, caplog
):
    browser = webtest.TestApp(idp_initiated_app, extra_environ=BROWSER)
    other = webtest.TestApp(wsgi_app, extra_environ=BROWSER)
    root = answer_to_login(other, devidp)
    answer = post_answer(browser, forge.encode(root))
    assert_refused(
        answer,
        browser,
        caplog,
        dbsession,
        "answer to a request this browser did not make",
        says=NOT_FOR_THIS_BROWSER,
    )


# 10. Deprecated algorithms, signed with the real IdP key


@pytest.mark.parametrize(
    ("algorithms", "reason"),
    [
        pytest.param(forge.SHA1, "Deprecated signature algorithm", id="rsa-sha1-and-sha1"),
        pytest.param(
            (forge.SHA1[0], forge.SHA256[1]),
            "Deprecated signature algorithm",
            id="rsa-sha1-over-sha256",
        ),
        pytest.param(
            (forge.SHA256[0], forge.SHA1[1]), "Deprecated digest algorithm", id="sha1-digest"
        ),
    ],
)
def test_answer_signed_with_sha1_is_refused(testapp, devidp, dbsession, caplog, algorithms, reason):
    root = answer_to_login(testapp, devidp)
    forge.resign(root, devidp.key_path, devidp.cert_path, algorithms)
    answer = post_answer(testapp, forge.encode(root))
    assert_refused(answer, testapp, caplog, dbsession, reason)


# 11. Hostile input

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 "lol">\n'
    + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(1, 10))
    + ']>\n<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" '
    'Version="2.0">&lol9;</samlp:Response>'
)
ENTITY_DECLARATION = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY name "Mallory">]>\n'
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" '
    'Version="2.0">&name;</samlp:Response>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" '
    'Version="2.0">&xxe;</samlp:Response>'
)


@pytest.mark.parametrize(
    ("saml_response", "reason"),
    [
        pytest.param(
            forge.encode_text('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:prot'),
            "XMLSyntaxError",
            id="malformed-xml",
        ),
        pytest.param("%%% this is not base64 %%%", "Error", id="not-base64"),
        pytest.param(forge.encode_text(bytes(range(256))), "XMLSyntaxError", id="binary-junk"),
        # libxml2 stops the expansion before python3-saml gets to refuse the DTD
        pytest.param(forge.encode_text(BILLION_LAUGHS), "XMLSyntaxError", id="billion-laughs"),
        pytest.param(forge.encode_text(ENTITY_DECLARATION), "DTDForbidden", id="doctype"),
        pytest.param(forge.encode_text(EXTERNAL_ENTITY), "DTDForbidden", id="external-entity"),
    ],
)
def test_unreadable_answer_is_refused(testapp, dbsession, caplog, saml_response, reason):
    start_login(testapp)
    answer = post_answer(testapp, saml_response)
    assert_refused(
        answer, testapp, caplog, dbsession, f"unreadable response ({reason}", says=NOT_READABLE
    )


def test_oversized_answer_is_refused(testapp, wsgi_app, dbsession, caplog):
    start_login(testapp)
    size = wsgi_app.registry["saml"].max_response_bytes + 1
    answer = post_answer(testapp, "A" * size)
    assert_refused(
        answer, testapp, caplog, dbsession, "response too large", says=TOO_LARGE, status=413
    )


# 12. Where a sign-in lands

OFF_SITE = OPEN_REDIRECTS
#: where Ana, a citizen going nowhere in particular, starts
HER_START = "/bills"


@pytest.mark.parametrize("next_path", OFF_SITE)
def test_sign_in_asked_to_go_off_site_lands_on_her_start(testapp, devidp, departments, next_path):
    root = answer_to_login(testapp, devidp, next_path=next_path)
    answer = post_answer(testapp, forge.encode(root), relay_state=next_path)
    assert answer.status_int == 303, answer.text
    assert answer.location == f"{BASE_URL}{HER_START}"
    assert_signed_in(testapp)


@pytest.mark.parametrize("relay_state", OFF_SITE)
def test_relay_state_changed_in_transit_is_ignored(testapp, devidp, departments, relay_state):
    root = answer_to_login(testapp, devidp, next_path="/account")
    answer = post_answer(testapp, forge.encode(root), relay_state=relay_state)
    assert answer.status_int == 303, answer.text
    assert answer.location == f"{BASE_URL}/account"


@pytest.mark.parametrize(
    ("relay_state", "lands_on"),
    [*((relay_state, HER_START) for relay_state in OFF_SITE), ("/account", "/account")],
)
def test_idp_initiated_sign_in_lands_on_a_local_path_only(
    idp_initiated_app, wsgi_app, devidp, departments, relay_state, lands_on
):
    other = webtest.TestApp(wsgi_app, extra_environ=BROWSER)
    root = unsolicited(answer_to_login(other, devidp), devidp)
    browser = webtest.TestApp(idp_initiated_app, extra_environ=BROWSER)
    answer = post_answer(browser, forge.encode(root), relay_state=relay_state)
    assert answer.status_int == 303, answer.text
    assert answer.location == f"{BASE_URL}{lands_on}"
