"""Server-side sessions kept in the database.

The cookie holds a random token; the row is keyed by its SHA-256. Sessions end after an idle
timeout and an absolute lifetime (settings), get a new token at sign-in (:meth:`rotate`), and
are written in the request's own transaction just before it commits, so a refused request
leaves the session as it was.

A signed-in request costs one statement for who it is: the session row, its user and the ids
of the user's organisations, departments and buying departments, which are all the security
policy's principals need (:func:`identity_query`). A request without a cookie costs none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from pyramid.interfaces import ISession
from sqlalchemy import ScalarSelect, Select, String, bindparam, cast, func, select
from zope.interface import implementer

from portal.identity.models import (
    User,
    WebSession,
    buyer_membership,
    department_membership,
    organisation_membership,
)
from portal.requests import PortalRequest
from portal.settings import setting_bool

COOKIE_NAME = "portal_session"
#: how stale ``last_seen_at`` may get before a read-only request refreshes it
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mutator(name):
    method = getattr(dict, name)

    def changed_after(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self.changed()
        return result

    changed_after.__name__ = name
    return changed_after


@implementer(ISession)
class DatabaseSession(dict):
    """A dict of JSON-serialisable values stored in ``web_session``."""

    def __init__(
        self,
        request: PortalRequest,
        token: str | None,
        row: WebSession | None,
        user: User | None = None,
    ):
        super().__init__(json.loads(row.data) if row else {})
        self.request = request
        #: the row's user, read with it (see :func:`portal.identity.current_user`)
        self.user = user
        self._token = token
        self._row = row
        self._dirty = False
        self._drop_cookie = False
        self.new = row is None
        self.created = (row.created_at if row else request.clock.now()).timestamp()
        self._committed = False
        self._issue_cookie = False
        transaction = request.tm.get()
        transaction.addBeforeCommitHook(self._save)
        transaction.addAfterCommitHook(self._after_commit)
        request.add_response_callback(self._set_cookie)

    __setitem__ = _mutator("__setitem__")
    __delitem__ = _mutator("__delitem__")
    clear = _mutator("clear")
    pop = _mutator("pop")
    popitem = _mutator("popitem")
    setdefault = _mutator("setdefault")
    update = _mutator("update")

    def changed(self) -> None:
        self._dirty = True

    def invalidate(self) -> None:
        """Forget everything and stop using this token (sign-out)."""
        dict.clear(self)
        self._discard_row()
        self._drop_cookie = True
        self._dirty = True

    def rotate(self) -> None:
        """Keep the data under a new token, so a token seen before sign-in is worthless after."""
        self._discard_row()
        self._dirty = True

    def _discard_row(self) -> None:
        if self._row is not None:
            self.request.dbsession.delete(self._row)
            self._row = None
        self._token = None

    # flash messages
    def flash(self, msg, queue="", allow_duplicate=True) -> None:
        messages = self.setdefault(f"_f_{queue}", [])
        if allow_duplicate or msg not in messages:
            messages.append(msg)
            self.changed()

    def pop_flash(self, queue=""):
        # Every page asks; only taking messages that were there changes the session.
        key = f"_f_{queue}"
        return self.pop(key) if key in self else []

    def peek_flash(self, queue=""):
        return self.get(f"_f_{queue}", [])

    # CSRF
    def new_csrf_token(self) -> str:
        token = secrets.token_urlsafe(32)
        self["_csrft_"] = token
        return token

    def get_csrf_token(self) -> str:
        return self.get("_csrft_") or self.new_csrf_token()

    def _save(self) -> None:
        now = self.request.clock.now()
        if not dict.__len__(self) and self._row is None:
            return
        if self._row is None:
            self._token = secrets.token_urlsafe(32)
            self._row = WebSession(id=token_key(self._token), created_at=now)
            self.request.dbsession.add(self._row)
            self._dirty = True
        elif not self._dirty and now - self._row.last_seen_at < TOUCH_INTERVAL:
            return
        self._row.data = json.dumps(dict(self))
        self._row.user_id = self.get("user_id")
        self._row.last_seen_at = now
        self.request.dbsession.flush()
        self._issue_cookie = self._token != self.request.cookies.get(COOKIE_NAME)

    def _after_commit(self, success: bool) -> None:
        self._committed = success

    def _set_cookie(self, request, response) -> None:
        if self._committed and self._issue_cookie:
            response.set_cookie(
                COOKIE_NAME,
                self._token,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=request.registry[SETTINGS].secure,
            )
        elif self._drop_cookie:
            response.delete_cookie(COOKIE_NAME, path="/")


def _member_ids(table, member_column) -> ScalarSelect[str | None]:
    """The ids in ``member_column`` of the user's rows in ``table``, as one comma-separated
    string (``group_concat`` on SQLite, ``string_agg`` on PostgreSQL), or NULL for none."""
    return (
        select(func.aggregate_strings(cast(member_column, String), ","))
        .where(table.c.user_id == User.id)
        .scalar_subquery()
    )


def identity_query() -> Select:
    """The session row with the given ``key``, its user (if signed in) and the user's
    membership ids: everything a request needs to know who it is, in one statement."""
    return (
        select(
            WebSession,
            User,
            _member_ids(organisation_membership, organisation_membership.c.organisation_id),
            _member_ids(department_membership, department_membership.c.department_id),
            _member_ids(buyer_membership, buyer_membership.c.department_id),
        )
        .outerjoin(User, User.id == WebSession.user_id)
        .where(WebSession.id == bindparam("key"))
    )


#: built once: the statement's cache key is then worked out once, not per request
IDENTITY_QUERY = identity_query()


def _ids(text: str | None) -> tuple[int, ...]:
    return tuple(sorted(int(part) for part in text.split(","))) if text else ()


class SessionSettings:
    """The session settings, read once when the application starts rather than per request."""

    def __init__(self, settings: dict):
        self.idle = dt.timedelta(minutes=int(settings.get("portal.session.idle_minutes", 30)))
        self.lifetime = dt.timedelta(hours=int(settings.get("portal.session.max_hours", 12)))
        self.secure = setting_bool(settings, "portal.secure_cookies")


#: the registry key of the application's :class:`SessionSettings`
SETTINGS = "portal.session_settings"


def session_factory(request: PortalRequest) -> DatabaseSession:
    settings: SessionSettings = request.registry[SETTINGS]
    token = request.cookies.get(COOKIE_NAME)
    row = user = None
    if token and len(token) < 100:
        found = request.dbsession.execute(IDENTITY_QUERY, {"key": token_key(token)}).first()
        if found is not None:
            row, user, organisations, departments, buying_departments = found
            now = request.clock.now()
            if now - row.last_seen_at > settings.idle or now - row.created_at > settings.lifetime:
                request.dbsession.delete(row)
                row = user = None
            elif user is not None:
                user.know_member_ids(
                    _ids(organisations), _ids(departments), _ids(buying_departments)
                )
    return DatabaseSession(request, token if row else None, row, user)
