"""Documents as PDF/A-3b: WeasyPrint renders a Jinja2 template from ``templates/documents/``
and embeds the document's data as a machine-readable JSON attachment.

Nothing on a document can make the renderer read a file or call a URL: the URL fetcher allows
only ``data:`` URLs (the QR code) and the packaged files under ``portal/documents/assets/``,
and every value in the template is escaped.

What does not change between documents is made once, not per document: the Jinja environment
(one per language), and WeasyPrint's font configuration with the parsed stylesheets a template
names in ``{% set stylesheets = [...] %}``. WeasyPrint's font configuration (a fontconfig and
Pango font map) is not safe to share between threads, so each thread that renders (a waitress
thread, a task worker's thread) has its own, with its own parsed stylesheets; a process made by
``fork`` (gunicorn's workers) makes its own too, since it checks the process id. Jinja
environments are safe to share between threads.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from cssselect2 import ElementWrapper
from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import CSS, HTML, Attachment
from weasyprint.html import UA, UA_COUNTER_STYLE
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from portal.i18n import (
    document_localizer,
    language_tag,
    pluralize_in_context,
    translate_in_context,
)
from portal.templating import TEMPLATES

ASSETS = (Path(__file__).resolve().parent / "assets").resolve()


#: rules of WeasyPrint's user-agent stylesheet for pseudo-elements documents never show
_UNSHOWN_PSEUDO_ELEMENTS = re.compile(
    r"^::(marker|footnote-call|footnote-marker|note-call|note-marker|note-callback) \{[^}]*\}$",
    re.M,
)


class DocumentHTML(HTML):
    """HTML as WeasyPrint reads it, with its user-agent stylesheet less the rules for list
    markers, footnotes and notes, and parsed by expat when it is well-formed XML.

    Those rules name a pseudo-element alone (``::marker { ... }``), so they match every
    element: WeasyPrint computes six pseudo-element styles for each element of a document,
    about a tenth of a receipt's render time, and uses them only for list items
    (``display: list-item``) and footnotes or notes (``float: footnote``), which no document
    has. Every element's style is as before; ``tests/unit/test_document_rendering.py``
    compares them. (``_ua_stylesheets`` is how WeasyPrint's ``HTML`` names its user-agent
    stylesheets.)

    WeasyPrint parses HTML with tinyhtml5, in Python, character by character: 2.7 ms of a
    receipt. A template written as well-formed XML (``<br/>``, ``&#160;``, no ``xmlns``) is
    parsed by expat into the tree tinyhtml5 builds (:func:`_well_formed_tree`;
    ``tests/unit/test_document_parsing.py`` compares them); anything else, or a document
    whose text expat refuses (a control character), goes to WeasyPrint's parser as before.
    (The attributes set are those ``HTML.__init__`` sets; documents name no ``<base>``.)"""

    def __init__(self, string: str, base_url: str, url_fetcher: URLFetcher):
        root = _well_formed_tree(string)
        if root is None:
            super().__init__(string=string, base_url=base_url, url_fetcher=url_fetcher)
            return
        self.base_url = base_url
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element

    def _ua_stylesheets(self, forms=False):
        return [_user_agent_stylesheet()]


#: XML turns tabs and line breaks in attribute values into spaces; HTML keeps them
_BREAK_IN_A_TAG = re.compile(r"<[^>]*[\t\n\r]")


def _well_formed_tree(html: str) -> ElementTree.Element | None:
    """The tree tinyhtml5 builds for ``html`` (no namespaces), built by expat; None unless
    ``html`` is a well-formed ``<html>`` of a ``<head>`` and a ``<body>`` with no tab or line
    break inside a tag. The HTML parser drops the whitespace before ``<head>`` and puts what
    follows ``</body>`` and ``</html>`` at the end of the body: so does this."""
    if _BREAK_IN_A_TAG.search(html):
        return None
    try:
        # a template's output, every value in it escaped: no DTD but <!DOCTYPE html>
        root = ElementTree.fromstring(html)  # noqa: S314
    except ElementTree.ParseError:
        return None
    if root.tag != "html" or [child.tag for child in root] != ["head", "body"]:
        return None
    if (root.text or "").strip() or (root[0].tail or "").strip():
        return None  # text before <body> would begin the body there
    body = root[1]
    after = (body.tail or "") + html[len(html.rstrip()) :]
    if after.strip():
        return None
    root.text = body.tail = None
    if after and len(body):
        body[-1].tail = (body[-1].tail or "") + after
    elif after:
        body.text = (body.text or "") + after
    return root


@lru_cache(maxsize=1)
def _user_agent_stylesheet() -> CSS:
    """Parsed once per process, as WeasyPrint parses its own."""
    css, removed = _UNSHOWN_PSEUDO_ELEMENTS.subn("", UA)
    if removed != 6:
        raise RuntimeError(
            f"WeasyPrint's user-agent stylesheet changed: {removed} of 6 rules found"
        )
    return CSS(string=css, counter_style=UA_COUNTER_STYLE)


class AssetRefused(ValueError):
    """A URL a document may not load."""


class PackagedAssetsOnly(URLFetcher):
    """Fetch ``data:`` URLs and files under the documents' asset folder; refuse all else."""

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(ASSETS) and path.is_file():
                return super().fetch(url, headers)
        raise AssetRefused(f"documents may not load {parts.scheme or 'relative'} URLs")


@lru_cache(maxsize=16)
def _environment(locale: str) -> Environment:
    """The documents' Jinja environment in ``locale``, made once per language."""
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    # the document's language as HTML names it (<html lang>, which also picks the Han forms)
    environment.globals["lang"] = language_tag(locale)
    localizer = document_localizer(locale)
    environment.install_gettext_callables(
        lambda message: localizer.translate(message, domain="portal"),
        lambda singular, plural, n: localizer.pluralize(singular, plural, n, domain="portal"),
        newstyle=True,
        pgettext=lambda context, message: translate_in_context(localizer, context, message),
        npgettext=lambda context, singular, plural, n: pluralize_in_context(
            localizer, context, singular, plural, n
        ),
    )
    return environment


class _Typesetting(threading.local):
    """This thread's font configuration and the stylesheets parsed with it."""

    pid: int | None = None
    fonts: FontConfiguration
    stylesheets: dict[str, CSS]

    def fonts_here(self) -> FontConfiguration:
        if self.pid != os.getpid():
            self.fonts = FontConfiguration()
            self.stylesheets = {}
            self.pid = os.getpid()
        return self.fonts

    def stylesheet(self, name: str) -> CSS:
        fonts = self.fonts_here()
        sheet = self.stylesheets.get(name)
        if sheet is None:
            path = (ASSETS / name).resolve()
            if not path.is_relative_to(ASSETS) or path.suffix != ".css" or not path.is_file():
                raise AssetRefused(f"{name!r} is not a packaged stylesheet")
            sheet = CSS(
                string=path.read_text(encoding="utf-8"),
                base_url=ASSETS.as_uri() + "/",
                url_fetcher=PackagedAssetsOnly(),
                font_config=fonts,
            )
            self.stylesheets[name] = sheet
        return sheet


_typesetting = _Typesetting()


def render_html(template: str, context: dict, locale: str) -> tuple[str, tuple[str, ...]]:
    """The template's HTML and the packaged stylesheets it names (``stylesheets``)."""
    module = _environment(locale).get_template(template).make_module(context)
    return str(module), tuple(getattr(module, "stylesheets", ()))


def write_pdf(html: str, stylesheets: Iterable[str] = (), **options) -> bytes:
    """``html`` as PDF with the named packaged stylesheets, WeasyPrint's ``write_pdf``
    ``options`` (the PDF variant, attachments) passed on."""
    fonts = _typesetting.fonts_here()
    sheets = [_typesetting.stylesheet(name) for name in stylesheets]
    document = DocumentHTML(
        string=html, base_url=ASSETS.as_uri() + "/", url_fetcher=PackagedAssetsOnly()
    )
    return document.write_pdf(stylesheets=sheets, font_config=fonts, **options)


def render_pdf(
    template: str, context: dict, data: dict, locale: str, data_name: str = "document.json"
) -> bytes:
    """``template`` as PDF/A-3b bytes with ``data`` attached as ``data_name``."""
    html, stylesheets = render_html(template, context, locale)
    attachment = Attachment(
        string=json.dumps(data, indent=2, ensure_ascii=False),
        name=data_name,
        description="Machine-readable document data",
        relationship="Data",
    )
    return write_pdf(html, stylesheets, pdf_variant="pdf/a-3b", attachments=[attachment])
