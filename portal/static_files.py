"""Static files under URLs that carry a hash of their content, kept by browsers for a year.

The static view (:mod:`portal.templating`) serves ``static/``, gzipped where the browser
accepts it (the ``.gz`` that ``make assets`` writes beside the compiled stylesheet). Pages name
each file with ``?v=`` and a hash of its content, so a changed file gets a new URL and a URL
that carries a hash can be cached for a year. Other static URLs (the images the compiled CSS
names) keep the static view's one hour.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pyramid.events import NewResponse
from pyramid.static import QueryStringCacheBuster

from portal.settings import SettingsError
from portal.templating import STATIC

STATIC_ROUTE = "__static/"
#: the query parameter that carries a static file's content hash
VERSION_PARAM = "v"
#: how long a static file asked for under its content hash is kept
VERSIONED_MAX_AGE = 365 * 24 * 3600


class ContentHashCacheBuster(QueryStringCacheBuster):
    """``?v=`` the first 16 hex digits of the SHA-256 of the file, computed again only when
    the file changes (its size or modification time)."""

    def __init__(self, root: Path):
        super().__init__(param=VERSION_PARAM)
        self.root = root
        self._tokens: dict[tuple, str] = {}

    def tokenize(self, request, subpath, kw) -> str:
        path = self.root / subpath
        try:
            stat = path.stat()
        except OSError:
            return "missing"
        key = (subpath, stat.st_size, stat.st_mtime_ns)
        token = self._tokens.get(key)
        if token is None:
            token = self._tokens[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return token


def cache_versioned_files(event) -> None:
    """A static file asked for under its content hash cannot change: keep it for a year."""
    request, response = event.request, event.response
    route = request.matched_route
    if (
        route is not None
        and route.name == STATIC_ROUTE
        and response.status_int == 200
        and VERSION_PARAM in request.GET
    ):
        response.cache_expires(VERSIONED_MAX_AGE)
        response.cache_control.public = True
        response.headers["Cache-Control"] += ", immutable"


def check_precompressed(root: Path) -> None:
    """A ``.gz`` older than its file would serve old content to every browser that accepts
    gzip: refuse to start rather than do that."""
    for compressed in root.rglob("*.gz"):
        source = compressed.with_suffix("")
        if not source.is_file() or source.stat().st_mtime > compressed.stat().st_mtime:
            raise SettingsError(f"{compressed} is out of step with its file: run make assets")


def includeme(config) -> None:
    check_precompressed(STATIC)
    config.add_cache_buster(str(STATIC), ContentHashCacheBuster(STATIC))
    config.add_subscriber(cache_versioned_files, NewResponse)
