"""Static files: pages name them under a hash of their content, which may be cached for a year,
and the big stylesheet goes out gzipped to browsers that accept it."""

from __future__ import annotations

import gzip
import hashlib
import os
import re

import pytest
from webob import Request

from portal.settings import SettingsError
from portal.static_files import check_precompressed
from portal.templating import STATIC
from tests.conftest import BASE_URL


def stylesheet_url(testapp) -> str:
    page = testapp.get("/")
    return re.search(r'href="(/static/build/portal\.css\?v=[^"]+)"', page.text).group(1)


def test_pages_name_static_files_by_the_hash_of_their_content(testapp):
    url = stylesheet_url(testapp)
    content = (STATIC / "build" / "portal.css").read_bytes()
    assert url.endswith("?v=" + hashlib.sha256(content).hexdigest()[:16])


def raw_get(wsgi_app, url: str, accept_encoding: str):
    """The response as sent (WebTest would undo the compression)."""
    request = Request.blank(url, headers={"Accept-Encoding": accept_encoding}, base_url=BASE_URL)
    return request.get_response(wsgi_app)


def test_a_hashed_url_is_cached_for_a_year_and_sent_gzipped(testapp, wsgi_app):
    response = raw_get(wsgi_app, stylesheet_url(testapp), "gzip, br")
    assert response.status_int == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.body) == (STATIC / "build" / "portal.css").read_bytes()
    assert len(response.body) < 30_000
    cache_control = response.headers["Cache-Control"]
    assert "max-age=31536000" in cache_control and "immutable" in cache_control


def test_without_gzip_or_hash_the_file_is_plain_and_kept_an_hour(wsgi_app):
    response = raw_get(wsgi_app, "/static/build/portal.css", "identity")
    assert "Content-Encoding" not in response.headers
    assert response.body == (STATIC / "build" / "portal.css").read_bytes()
    assert response.headers["Cache-Control"] == "max-age=3600"


def test_a_gzip_older_than_its_file_stops_the_start(tmp_path):
    source = tmp_path / "site.css"
    source.write_text("body { color: black }")
    compressed = tmp_path / "site.css.gz"
    compressed.write_bytes(gzip.compress(b"body { color: red }"))
    check_precompressed(tmp_path)
    older = compressed.stat().st_mtime - 60
    os.utime(compressed, (older, older))
    with pytest.raises(SettingsError, match="make assets"):
        check_precompressed(tmp_path)


def test_every_static_file_the_pages_name_is_served(testapp):
    """An image or stylesheet moved away from ``static/`` shows as a broken picture, which no
    other test sees: fetch every static URL the start page names."""
    page = testapp.get("/")
    urls = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text))
    assert any("emblem" in url for url in urls)
    for url in urls:
        assert testapp.get(url).status_int == 200, url
