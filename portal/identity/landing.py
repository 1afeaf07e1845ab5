"""Where a person lands after signing in: where they were going, else where their work is.

The place they were going travels as a path on this site only (``next`` on the way out, kept
server-side in the pending request, RelayState for IdP-initiated sign-in): anything that a
browser could read as another site (``//host``, ``https://host``, backslashes, control or
non-ASCII characters) is dropped, so sign-in can never be used to send someone elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from portal.requests import PortalRequest

if TYPE_CHECKING:
    from portal.identity.models import User

#: paths that are part of signing in or out: returning to them would start over
_NOT_A_DESTINATION = ("/saml/", "/logout")
_MAX_LENGTH = 2000


def return_path(value: object) -> str | None:
    """``value`` if it is a path on this site worth returning to, else ``None``.

    Only printable ASCII without spaces passes (``request.path_qs`` is always that), so no
    browser can read a tab, a newline or a look-alike slash as the start of another host.
    """
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _MAX_LENGTH
        or not (value.isascii() and value.isprintable())
        or " " in value
        or "\\" in value
        or not value.startswith("/")
        or value.startswith("//")
    ):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("", "/"):
        return None
    if parts.path.startswith(_NOT_A_DESTINATION):
        return None
    return value


def home_of(request: PortalRequest, user: User) -> str:
    """Where ``user`` starts when they were going nowhere in particular: clerks and
    administrators to the back office, reviewers to the complaints they decide, auditors to
    the audit log, everyone else to what they owe."""
    if user.is_admin or user.departments:
        return request.route_path("backoffice")
    if user.is_reviewer:
        return request.route_path("review_complaints")
    if user.is_auditor:
        return request.route_path("backoffice_audit")
    return request.route_path("bills")


def landing(request: PortalRequest, user: User, wanted: str | None) -> str:
    """The path to send ``user`` to once signed in, ``wanted`` first if it is safe."""
    return return_path(wanted) or home_of(request, user)


def came_from(request: PortalRequest) -> str | None:
    """The page this request was made from, for coming back to it after a stronger sign-in.

    A GET is the page itself. A form sent by POST came from the page in ``Referer`` (sent in
    full within the site, ``Referrer-Policy: same-origin``), used only if it is this site's.
    """
    if request.method in ("GET", "HEAD"):
        return return_path(request.path_qs)
    referer = request.referer or ""
    site = urlsplit(request.registry.settings["portal.base_url"])
    parts = urlsplit(referer)
    if (parts.scheme, parts.netloc) != (site.scheme, site.netloc):
        return None
    prefix = site.path.rstrip("/")
    if not parts.path.startswith(prefix + "/"):
        return None
    return return_path(parts.path + (f"?{parts.query}" if parts.query else ""))
