"""Documents as PDF/A-3b: WeasyPrint renders a Jinja2 template from ``templates/documents/``
and embeds the document's data as a machine-readable JSON attachment.

Nothing on a document can make the renderer read a file or call a URL: the URL fetcher allows
only ``data:`` URLs (the QR code) and the packaged files under ``portal/documents/assets/``,
and every value in the template is escaped.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher

from portal.i18n import document_localizer
from portal.templating import TEMPLATES

ASSETS = (Path(__file__).resolve().parent / "assets").resolve()


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


def qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _environment(locale: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    localizer = document_localizer(locale)
    environment.install_gettext_callables(
        lambda message: localizer.translate(message, domain="portal"),
        lambda singular, plural, n: localizer.pluralize(singular, plural, n, domain="portal"),
        newstyle=True,
    )
    return environment


def render_pdf(
    template: str, context: dict, data: dict, locale: str, data_name: str = "document.json"
) -> bytes:
    """``template`` as PDF/A-3b bytes with ``data`` attached as ``data_name``."""
    html = _environment(locale).get_template(template).render(**context)
    attachment = Attachment(
        string=json.dumps(data, indent=2, ensure_ascii=False),
        name=data_name,
        description="Machine-readable document data",
        relationship="Data",
    )
    document = HTML(string=html, base_url=ASSETS.as_uri() + "/", url_fetcher=PackagedAssetsOnly())
    return document.write_pdf(pdf_variant="pdf/a-3b", attachments=[attachment])
