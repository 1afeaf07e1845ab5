"""Jinja2 templates from the repository's ``templates/`` folder, with the portal's filters.

Every user-facing string goes through gettext (``_``/``{% trans %}``); dates are shown in
the portal's time zone and amounts in the reader's locale, both through Babel.

Static files are served from ``static/``, gzipped where the browser accepts it (the ``.gz``
that ``make assets`` writes beside a file) and under URLs that carry a hash of the file's
content, which may therefore be cached for a year: a changed file gets a new URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from pyramid.events import BeforeRender, NewResponse, subscriber
from pyramid.static import QueryStringCacheBuster

from portal.billing.bills import LABELS as BILL_LABELS
from portal.billing.reference import printed
from portal.billing.state import FAILURE_LABELS, REFUND_LABELS
from portal.billing.state import LABELS as PAYMENT_LABELS
from portal.security import PUBLIC
from portal.settings import SettingsError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_ROUTE = "__static/"
#: the query parameter that carries a static file's content hash
VERSION_PARAM = "v"
#: how long a static file is kept when asked for under its content hash, and when not
BUSTED_MAX_AGE = 365 * 24 * 3600
PLAIN_MAX_AGE = 3600


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


def cache_versioned_static_files(event) -> None:
    """A static file asked for under its content hash cannot change: keep it for a year. Other
    static URLs (images the compiled CSS names) keep the static view's short lifetime."""
    request, response = event.request, event.response
    route = request.matched_route
    if (
        route is not None
        and route.name == STATIC_ROUTE
        and response.status_int == 200
        and VERSION_PARAM in request.GET
    ):
        response.cache_expires(BUSTED_MAX_AGE)
        response.cache_control.public = True
        response.headers["Cache-Control"] += ", immutable"


def check_precompressed(root: Path) -> None:
    """A ``.gz`` older than its file would serve old content to every browser that accepts
    gzip: refuse to start rather than do that."""
    for compressed in root.rglob("*.gz"):
        source = compressed.with_suffix("")
        if not source.is_file() or source.stat().st_mtime > compressed.stat().st_mtime:
            raise SettingsError(f"{compressed} is out of step with its file: run make assets")


def portal_timezone(request) -> ZoneInfo:
    return ZoneInfo(request.registry.settings.get("portal.timezone", "UTC"))


def locale_name(request) -> str:
    return request.localizer.locale_name or "en"


def format_when(request, value: dt.datetime | None, format: str = "medium") -> str:
    """A UTC timestamp as the reader should see it: in the portal's zone and their locale."""
    if value is None:
        return ""
    return format_datetime(
        value, format=format, tzinfo=portal_timezone(request), locale=locale_name(request)
    )


def format_day(request, value: dt.date | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return format_date(value, format=format, locale=locale_name(request))


@subscriber(BeforeRender)
def add_globals(event) -> None:
    request = event.get("request")
    if request is None:
        return
    event["when"] = lambda value, format="medium": format_when(request, value, format)
    event["day"] = lambda value, format="medium": format_day(request, value, format)
    event["static"] = lambda path: request.static_path(f"{STATIC}/{path}")
    event["money"] = lambda amount: amount.format(locale_name(request))
    event["printed_reference"] = printed
    event["bill_status"] = lambda status: request.localizer.translate(BILL_LABELS[status])
    event["payment_status"] = lambda status: request.localizer.translate(PAYMENT_LABELS[status])
    event["refund_status"] = lambda status: request.localizer.translate(REFUND_LABELS[status])
    event["failure_reason"] = lambda code: (
        request.localizer.translate(FAILURE_LABELS[code]) if code in FAILURE_LABELS else ""
    )


def page_locale(request) -> None:
    """Pages stay in the default language (``None``) whatever the request asks for, until
    their catalogues are complete: the one catalogue so far covers documents only (receipts,
    see portal.i18n.DOCUMENT_LANGUAGES), and a partial one would mix languages on a page."""
    return None


def includeme(config) -> None:
    settings = config.get_settings()
    settings.setdefault("jinja2.directories", str(TEMPLATES))
    settings.setdefault("jinja2.i18n.domain", "portal")
    settings.setdefault("jinja2.autoescape", "true")
    settings.setdefault("jinja2.newstyle", "true")
    settings.setdefault("pyramid.default_locale_name", settings.get("portal.default_locale", "en"))
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_translation_dirs("portal:locale/")
    config.set_locale_negotiator(page_locale)
    check_precompressed(STATIC)
    config.add_static_view(
        "static",
        str(STATIC),
        cache_max_age=PLAIN_MAX_AGE,
        content_encodings=["gzip"],
        permission=PUBLIC,
    )
    config.add_cache_buster(str(STATIC), ContentHashCacheBuster(STATIC))
    config.add_subscriber(cache_versioned_static_files, NewResponse)
