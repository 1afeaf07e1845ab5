"""Nothing on a document can make the renderer read a file or call a URL."""

import subprocess

import pytest

from portal.documents.render import ASSETS, AssetRefused, PackagedAssetsOnly, render_pdf


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.org/x.css",
        f"file://{ASSETS}/../render.py",
        f"{ASSETS.as_uri()}/../../../portal/config.py",
        f"file://evil.example{ASSETS}/emblem.svg",
    ],
)
def test_fetcher_refuses_anything_but_packaged_assets(url):
    with pytest.raises(AssetRefused):
        PackagedAssetsOnly().fetch(url)


def test_fetcher_serves_packaged_assets_and_data_urls():
    assert PackagedAssetsOnly().fetch((ASSETS / "receipt.css").as_uri())
    emblem = PackagedAssetsOnly().fetch((ASSETS / "emblem.svg").as_uri())
    assert emblem.read().startswith(b"<svg")
    assert PackagedAssetsOnly().fetch("data:text/plain,hello")


def test_user_text_is_escaped_not_interpreted(tmp_path):
    hostile = '<img src="file:///etc/passwd"><link rel="stylesheet" href="http://127.0.0.1:9/">'
    context = {
        "locale": "en",
        "title": "Receipt",
        "number": "R-2026-000001",
        "issued": "today",
        "authority": {"name": "City", "address": ""},
        "payer": hostile,
        "organisation": None,
        "method": None,
        "provider_reference": None,
        "payment_reference": "p",
        "reason": None,
        "bills": [
            {
                "description": hostile,
                "service": "s",
                "number": "1",
                "reference": "RF",
                "amount": "€1.00",
                "lines": [],
            }
        ],
        "total_label": "Total",
        "total": "€1.00",
        "qr": "data:,",
        "verify_url": "https://x/v",
        "verification_code": "ABCDE-FGHJK",
        "original_number": None,
    }
    pdf = render_pdf("documents/receipt.jinja2", context, {"number": "R"}, "en")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert '<img src="file:///etc/passwd">' in text.replace("\n", "")
    assert "root:" not in text
