"""A document template written as well-formed XML is parsed by expat into exactly the tree
WeasyPrint's HTML parser (tinyhtml5) builds; whatever expat cannot read goes to that parser."""

from __future__ import annotations

import pytest
import tinyhtml5

from portal.documents.qr import qr_data_uri
from portal.documents.render import (
    ASSETS,
    DocumentHTML,
    PackagedAssetsOnly,
    _well_formed_tree,
    render_html,
)

HOSTILE = "<b>&amp; \"quoted\" 'it' </td></table> \u202eevil\u202c \U0001f600 a\tb\r\nc\rd"


def receipt(kind: str, **changed) -> dict:
    line = {"description": "Late payment interest, 8 % p.a.", "amount": "€4.85"}
    bill = {
        "number": "PROPERTY-TAX-2026-00001",
        "description": "Property tax 2026, instalment 1",
        "service": "Property tax",
        "reference": "SI12 3456 7890 1234",
        "amount": "€189.05",
        "lines": [line, line] if kind == "receipt" else [],
    }
    context = {
        "kind": kind,
        "locale": "sl",
        "title": "Potrdilo",
        "number": "R-2026-000001",
        "issued": "6. december 2026 ob 03:24:00 CET",
        "original_number": "R-2026-000001" if kind == "credit_note" else None,
        "authority": {"name": "Občina – javne storitve", "address": "Glavni trg 1"},
        "payer": "Ana Novak",
        "organisation": "Zavod & co.",
        "method": "Visa •••• 4242",
        "provider_reference": "psp_1",
        "payment_reference": "PAY-1",
        "reason": "Plačano dvakrat" if kind == "credit_note" else None,
        "bills": [bill, bill],
        "total_label": "Skupaj",
        "total": "€378.10",
        "qr": qr_data_uri("https://portal.example.org/verify/ABCDEFGHJK"),
        "verify_url": "https://portal.example.org/verify/ABCDEFGHJK",
        "verification_code": "ABCDE-FGHJK",
    }
    context.update(changed)
    return context


def shape(element) -> list:
    """Every element's tag, attributes, text and tail, in document order."""
    return [(e.tag, sorted(e.attrib.items()), e.text, e.tail) for e in element.iter()]


def parsed(html: str):
    return tinyhtml5.parse(html, namespace_html_elements=False)


@pytest.mark.parametrize("kind", ["receipt", "credit_note"])
@pytest.mark.parametrize(
    "changed",
    [{}, {"payer": HOSTILE, "organisation": HOSTILE, "method": None, "bills": []}],
    ids=["ordinary", "hostile"],
)
def test_receipts_are_read_by_expat_into_the_html_parsers_tree(kind, changed):
    html, _ = render_html("documents/receipt.jinja2", receipt(kind, **changed), "sl")
    tree = _well_formed_tree(html)
    assert tree is not None
    assert shape(tree) == shape(parsed(html))


@pytest.mark.parametrize(
    "html",
    [
        # a control character: not XML, but HTML
        "<html><head></head><body><p>a\x0cb</p></body></html>",
        # a line break in an attribute: XML makes it a space, HTML keeps it
        '<html><head><meta name="author" content="a\nb"/></head><body></body></html>',
        # not well-formed
        "<!DOCTYPE html><html><head><meta charset=utf-8></head><body><br></body></html>",
        # text between </head> and <body> begins the body
        "<html><head></head>text<body><p>a</p></body></html>",
    ],
    ids=["control-character", "line-break-in-attribute", "html-only", "text-before-body"],
)
def test_what_expat_cannot_read_as_html_goes_to_the_html_parser(html):
    assert _well_formed_tree(html) is None
    document = DocumentHTML(
        string=html, base_url=ASSETS.as_uri() + "/", url_fetcher=PackagedAssetsOnly()
    )
    assert shape(document.etree_element) == shape(parsed(html))


def test_whitespace_goes_where_the_html_parser_puts_it():
    html = "<!DOCTYPE html>\n<html>\n<head>\n</head>\n<body><p>a</p>\n</body>\n</html>\n\n"
    assert shape(_well_formed_tree(html)) == shape(parsed(html))
    empty = "<html> <head></head> <body></body> </html> "
    assert shape(_well_formed_tree(empty)) == shape(parsed(empty))
