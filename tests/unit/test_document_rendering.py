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


def test_each_thread_renders_with_its_own_fonts_and_stylesheets_made_once():
    """WeasyPrint's font configuration is not shared between threads (waitress threads,
    task workers): each thread makes its own once, with the stylesheets parsed for it."""
    import threading

    from portal.documents import render

    context = {
        "locale": "en",
        "title": "Receipt",
        "number": "R-2026-000001",
        "issued": "today",
        "authority": {"name": "City", "address": ""},
        "payer": "Ana",
        "payment_reference": "p",
        "bills": [],
        "total_label": "Total",
        "total": "€1.00",
        "qr": render.qr_data_uri("https://x/verify/ABCDEFGHJK"),
        "verify_url": "https://x/verify/ABCDEFGHJK",
        "verification_code": "ABCDE-FGHJK",
    }
    seen: dict[str, tuple] = {}

    def work(name: str) -> None:
        for _ in range(2):
            pdf = render_pdf("documents/receipt.jinja2", context, {"number": "R"}, "en")
            assert pdf.startswith(b"%PDF")
        sheets = render._typesetting.stylesheets
        # the objects themselves (not their ids, which a finished thread's could free)
        seen[name] = (render._typesetting.fonts, sheets["receipt.css"], list(sheets))

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 3
    assert len({id(fonts) for fonts, _, _ in seen.values()}) == 3
    assert len({id(sheet) for _, sheet, _ in seen.values()}) == 3
    assert all(names == ["receipt.css"] for _, _, names in seen.values())


def test_stylesheets_are_only_packaged_css():
    from portal.documents.render import _typesetting

    for name in ("../render.py", "emblem.svg", "/etc/passwd", "../../../setup.cfg"):
        with pytest.raises(AssetRefused):
            _typesetting.stylesheet(name)
