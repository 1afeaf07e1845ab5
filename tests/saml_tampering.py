"""Forging SAML responses for the rejection tests: decode, edit, re-sign and encode again.

Re-signing with the real IdP key makes a response whose only fault is the one a test put in,
so the check that should refuse it is the only one that can.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt

import lxml.etree
import xmlsec

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}

SHA256 = (xmlsec.constants.TransformRsaSha256, xmlsec.constants.TransformSha256)
SHA1 = (xmlsec.constants.TransformRsaSha1, xmlsec.constants.TransformSha1)

_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True)


def decode(saml_response: str) -> lxml.etree._Element:
    return lxml.etree.fromstring(base64.b64decode(saml_response), _PARSER)


def encode(root: lxml.etree._Element) -> str:
    return base64.b64encode(lxml.etree.tostring(root)).decode("ascii")


def encode_text(xml: str | bytes) -> str:
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode("ascii")


def assertion_of(root: lxml.etree._Element) -> lxml.etree._Element:
    return root.find("saml:Assertion", NS)


def find(root: lxml.etree._Element, path: str) -> lxml.etree._Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


def signature_of(element: lxml.etree._Element) -> lxml.etree._Element | None:
    """The element's own (enveloped) signature, not one of its descendants'."""
    return element.find("ds:Signature", NS)


def unsign(element: lxml.etree._Element) -> lxml.etree._Element | None:
    """Remove the element's own signature and return it."""
    signature = signature_of(element)
    if signature is not None:
        element.remove(signature)
    return signature


def strip_signatures(root: lxml.etree._Element) -> None:
    for signature in root.findall(".//ds:Signature", NS):
        signature.getparent().remove(signature)


def saml_time(offset: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    element: lxml.etree._Element,
    key_path,
    cert_path,
    algorithms: tuple = SHA256,
    uri: str | None = None,
) -> None:
    """Give ``element`` a fresh enveloped signature after its Issuer, as the IdP does."""
    unsign(element)
    signature_method, digest_method = algorithms
    signature = xmlsec.template.create(
        element, xmlsec.constants.TransformExclC14N, signature_method, ns="ds"
    )
    find(element, "saml:Issuer").addnext(signature)
    reference = xmlsec.template.add_reference(
        signature, digest_method, uri=uri if uri is not None else "#" + element.get("ID")
    )
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    context = xmlsec.SignatureContext()
    for node in element.getroottree().iter():
        if node.get("ID"):
            context.register_id(node, "ID")
    context.key = xmlsec.Key.from_file(str(key_path), xmlsec.constants.KeyDataFormatPem)
    context.key.load_cert_from_file(str(cert_path), xmlsec.constants.KeyDataFormatPem)
    context.sign(signature)


def resign(root: lxml.etree._Element, key_path, cert_path, algorithms: tuple = SHA256) -> None:
    """Sign the assertion, then the response around it, as the IdP signs a fresh answer."""
    sign(assertion_of(root), key_path, cert_path, algorithms)
    sign(root, key_path, cert_path, algorithms)


def evil_twin(assertion: lxml.etree._Element, name_id: str = "admin-ada") -> lxml.etree._Element:
    """An unsigned copy of ``assertion`` naming someone else: what a wrapping attack smuggles in."""
    twin = copy.deepcopy(assertion)
    unsign(twin)
    twin.set("ID", "_evil" + assertion.get("ID"))
    find(twin, "saml:Subject/saml:NameID").text = name_id
    return twin
