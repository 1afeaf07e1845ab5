"""Nothing on a document can make the renderer read a file or call a URL."""

import subprocess

import pytest

from portal.documents.qr import qr_data_uri
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
        "qr": qr_data_uri("https://x/verify/ABCDEFGHJK"),
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


#: every element documents use (``templates/documents/``), nested as they nest them
ELEMENTS = """<!DOCTYPE html><html lang="sl"><head><meta charset="utf-8"><title>T</title>
<meta name="author" content="A"></head><body><header><img src="emblem.svg" alt=""><div>
<div class="authority">Authority</div><h1>Title</h1><dl><dt>Number</dt><dd>R-1</dd></dl></div>
</header><h2>Heading</h2><p class="muted">Text<br><strong>bold</strong> <span class="code">AB</span>
</p><table><colgroup><col class="c-no"><col></colgroup><thead><tr><th>A</th><th class="amount">B
</th></tr></thead><tbody><tr><th scope="row">x</th><td>y</td></tr><tr class="total"><td
colspan="2">z</td></tr></tbody></table><section class="annex"><div class="verify"><div class="qr">
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGP4DwABAQEA
jCYR8QAAAABJRU5ErkJggg==" alt=""></div><div><p>Check</p></div></div></section><footer>F</footer>
</body></html>"""


@pytest.mark.parametrize("stylesheet", ["receipt.css", "certificate.css", "procurement.css"])
def test_documents_style_every_element_as_weasyprint_does(stylesheet):
    """DocumentHTML leaves out the user-agent rules for markers, footnotes and notes: every
    element's computed style is the one WeasyPrint's own stylesheet gives it, property by
    property, and the pseudo-elements those rules made are no longer computed."""
    from weasyprint import HTML
    from weasyprint.css import get_all_computed_styles
    from weasyprint.css.properties import INITIAL_VALUES

    from portal.documents.render import DocumentHTML, _typesetting

    fonts = _typesetting.fonts_here()
    sheets = [_typesetting.stylesheet(stylesheet)]
    base = ASSETS.as_uri() + "/"
    computed = {}
    for kind in (HTML, DocumentHTML):
        html = kind(string=ELEMENTS, base_url=base, url_fetcher=PackagedAssetsOnly())
        styles = get_all_computed_styles(html, user_stylesheets=sheets, font_config=fonts)
        computed[kind] = styles.get_computed_styles()
    theirs, ours = computed[HTML], computed[DocumentHTML]
    their_elements = [element for element, pseudo in theirs if pseudo is None]
    our_elements = [element for element, pseudo in ours if pseudo is None]
    assert len(their_elements) > 30
    assert [e.tag for e in our_elements] == [e.tag for e in their_elements]
    for our, their in zip(our_elements, their_elements, strict=True):
        for name in INITIAL_VALUES:
            assert ours[our, None][name] == theirs[their, None][name], (their.tag, name)
    left_out = {"marker", "footnote-call", "footnote-marker", "note-call", "note-marker"}
    assert left_out <= {pseudo for _, pseudo in theirs}
    assert not left_out & {pseudo for _, pseudo in ours}
