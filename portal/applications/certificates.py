"""The certificate an approval issues: a PDF rendered once by WeasyPrint and kept as issued.

The HTML comes from ``templates/applications/certificate.jinja2`` (autoescaped: every value
the citizen typed is text, never markup). WeasyPrint may load only the packaged files under
``static/certificate/``: any other URL (the network, other files, ``data:``) is refused, so
a certificate can neither leak nor depend on anything outside the portal.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pyramid.renderers import render
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from portal.applications.models import Application, Certificate
from portal.templating import STATIC

ASSETS = (STATIC / "certificate").resolve()
BASE_URL = ASSETS.as_uri() + "/"


class AssetRefused(ValueError):
    """A URL the certificate may not load."""


class PackagedAssetsOnly(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under :data:`ASSETS` and nothing else."""

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise AssetRefused(f"not a packaged asset: {url}")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(ASSETS) or not path.is_file():
            raise AssetRefused(f"not a packaged asset: {url}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type}
        )


def render_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=BASE_URL, url_fetcher=PackagedAssetsOnly()).write_pdf()


def certificate_number(application: Application, year: int) -> str:
    return f"C-{year}-{application.id:07d}"


def issue_certificate(request, application: Application, values: list[tuple[str, str]]):
    """Render and store the certificate of an approved ``application`` (once)."""
    if application.certificate is not None:
        return application.certificate
    issued_at = request.clock.now()
    number = certificate_number(application, issued_at.year)
    html = render(
        "applications/certificate.jinja2",
        {
            "application": application,
            "number": number,
            "issued_at": issued_at,
            "values": values,
            "department": application.service.department,
        },
        request=request,
    )
    pdf = render_pdf(html)
    certificate = Certificate(
        application=application,
        number=number,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=issued_at,
    )
    request.dbsession.add(certificate)
    request.dbsession.flush()
    return certificate
