"""Server-side sessions kept in the database.

The cookie holds a random token; the row is keyed by its SHA-256. Sessions end after an idle
timeout and an absolute lifetime (settings), get a new token at sign-in (:meth:`rotate`), and
are written in the request's own transaction just before it commits, so a refused request
leaves the session as it was.

A signed-in request costs one statement for who it is: the session row, its user and the ids
of the user's organisations, departments and buying departments, which are all the security
policy's principals need (:func:`identity_query`). A request without a cookie costs none. The
statement is Core, its row kept as plain values (:class:`SignedIn`): the ORM's loading of two
objects was half its CPU, and most requests (a download, a checkout, any permission check)
need no ORM object of the person; the session row is written with Core statements too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets

from pyramid.interfaces import ISession
from sqlalchemy import (
    FunctionElement,
    ScalarSelect,
    Select,
    String,
    bindparam,
    cast,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError
from zope.interface import implementer

from portal.db import run_write, table_of
from portal.identity.models import (
    User,
    WebSession,
    buyer_membership,
    department_membership,
    organisation_membership,
    shown_name,
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


class SignedIn:
    """The signed-in person as the identity query read them: what the security policy, the
    page header and the language negotiation read, without an ORM object. A view that needs
    the ORM ``User`` (``request.user``) gets one made from these values, with no statement
    (:meth:`user`)."""

    __slots__ = (
        "id",
        "is_admin",
        "is_reviewer",
        "is_auditor",
        "locale",
        "display_name",
        "organisation_ids",
        "department_ids",
        "buying_department_ids",
        "identity_key",
        "_values",
    )

    def __init__(
        self,
        values: dict,
        organisation_ids: tuple[int, ...],
        department_ids: tuple[int, ...],
        buying_department_ids: tuple[int, ...],
    ):
        self._values = values
        self.id: int = values["id"]
        self.is_admin: bool = values["is_admin"]
        self.is_reviewer: bool = values["is_reviewer"]
        self.is_auditor: bool = values["is_auditor"]
        self.locale: str = values["locale"]
        self.display_name = shown_name(
            values["given_name"], values["family_name"], values["name_id"]
        )
        self.organisation_ids = organisation_ids
        self.department_ids = department_ids
        self.buying_department_ids = buying_department_ids
        #: the key of this person's ``User`` in a session's identity map
        self.identity_key = _USER_MAPPER.identity_key_from_primary_key((self.id,))

    def user(self, dbsession: Session) -> User:
        """This person as an ORM object of ``dbsession``: the one it holds already, else one
        made from the values read (persistent, as if loaded; its collections load when read,
        except those known to be empty), knowing the membership ids read."""
        user = dbsession.identity_map.get(self.identity_key)
        if user is None:
            user = User(**self._values)
            make_transient_to_detached(user)
            dbsession.add(user)
        user.know_member_ids(self.organisation_ids, self.department_ids, self.buying_department_ids)
        return user


_USER_MAPPER = inspect(User)
#: (attribute, column) of each of User's columns, read by the identity query
_USER_COLUMNS = tuple(
    (attribute.key, attribute.columns[0]) for attribute in _USER_MAPPER.column_attrs
)
_USER_ATTRIBUTES = tuple(attribute for attribute, _column in _USER_COLUMNS)
_SESSIONS = table_of(WebSession)


@implementer(ISession)
class DatabaseSession(dict):
    """A dict of JSON-serialisable values stored in ``web_session``."""

    def __init__(
        self,
        request: PortalRequest,
        token: str | None,
        row=None,
        person: SignedIn | None = None,
    ):
        super().__init__(json.loads(row.data) if row else {})
        self.request = request
        #: who the row's user is, read with it (see :func:`portal.identity.current_user`)
        self.person = person
        self._token = token
        #: the stored row's key, while there is one
        self._key = token_key(token) if row and token else None
        self._last_seen = row.last_seen_at if row else None
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
        if self._key is not None:
            run_write(self.request.dbsession, _DELETE, {"key": self._key})
            self._key = None
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
        if not dict.__len__(self) and self._key is None:
            return
        if self._key is not None and not self._dirty:
            assert self._last_seen is not None
            if now - self._last_seen < TOUCH_INTERVAL:
                return
        values = {"data": json.dumps(dict(self)), "user_id": self.get("user_id"), "now": now}
        dbsession = self.request.dbsession
        # what the request changed first (a user signing in is inserted by the ORM)
        dbsession.flush()
        if self._key is None:
            self._token = secrets.token_urlsafe(32)
            self._key = token_key(self._token)
            run_write(dbsession, _INSERT, {**values, "key": self._key})
        elif run_write(dbsession, _UPDATE, {**values, "key": self._key}).rowcount != 1:
            # ended meanwhile (signed out in another tab): as the ORM's flush would, have the
            # request run again (pyramid_retry), when it finds no session
            raise StaleDataError(f"web_session row gone for {self._key[:8]}")
        self._last_seen = now
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


_USERS = table_of(User)


class _comma_joined(FunctionElement[str]):
    """``aggregate_strings(column, ',')`` with the comma written into the SQL: SQLAlchemy's
    own binds the separator as a "literal execute" value, which makes it render the
    statement's text afresh on every execution (every signed-in request runs this one).
    Compiled for the portal's two databases, PostgreSQL and SQLite only."""

    type = String()
    inherit_cache = True


@compiles(_comma_joined, "postgresql")
def _string_agg(element, compiler, **kw) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


@compiles(_comma_joined, "sqlite")
def _group_concat(element, compiler, **kw) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


def _member_ids(table, member_column) -> ScalarSelect[str | None]:
    """The ids in ``member_column`` of the user's rows in ``table``, as one comma-separated
    string (``group_concat`` on SQLite, ``string_agg`` on PostgreSQL), or NULL for none."""
    return (
        select(_comma_joined(cast(member_column, String)))
        .where(table.c.user_id == _USERS.c.id)
        .scalar_subquery()
    )


def identity_query() -> Select:
    """The session row with the given ``key``, its user's columns (NULL if nobody is signed
    in) and the user's membership ids: everything a request needs to know who it is, in one
    Core statement."""
    return (
        select(
            _SESSIONS.c.data,
            _SESSIONS.c.created_at,
            _SESSIONS.c.last_seen_at,
            *(column for _attribute, column in _USER_COLUMNS),
            _member_ids(organisation_membership, organisation_membership.c.organisation_id),
            _member_ids(department_membership, department_membership.c.department_id),
            _member_ids(buyer_membership, buyer_membership.c.department_id),
        )
        .select_from(_SESSIONS.outerjoin(_USERS, _USERS.c.id == _SESSIONS.c.user_id))
        .where(_SESSIONS.c.id == bindparam("key"))
    )


#: built once: the statement's cache key is then worked out once, not per request
IDENTITY_QUERY = identity_query()
#: where the user's columns are in the identity query's row
_FIRST_USER_COLUMN = 3
_INSERT = insert(_SESSIONS).values(
    id=bindparam("key"),
    data=bindparam("data"),
    user_id=bindparam("user_id"),
    created_at=bindparam("now"),
    last_seen_at=bindparam("now"),
)
_UPDATE = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("key"))
    .values(data=bindparam("data"), user_id=bindparam("user_id"), last_seen_at=bindparam("now"))
)
_DELETE = delete(_SESSIONS).where(_SESSIONS.c.id == bindparam("key"))


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
    row = person = None
    if token and len(token) < 100:
        key = token_key(token)
        # a Core statement on the session's connection: plain values need none of the ORM's work
        row = request.dbsession.connection().execute(IDENTITY_QUERY, {"key": key}).first()
        if row is not None:
            now = request.clock.now()
            if now - row.last_seen_at > settings.idle or now - row.created_at > settings.lifetime:
                run_write(request.dbsession, _DELETE, {"key": key})
                row = None
            else:
                columns = row[_FIRST_USER_COLUMN : _FIRST_USER_COLUMN + len(_USER_ATTRIBUTES)]
                values = dict(zip(_USER_ATTRIBUTES, columns, strict=True))
                if values["id"] is not None:
                    organisations, departments, buying_departments = row[-3:]
                    person = SignedIn(
                        values, _ids(organisations), _ids(departments), _ids(buying_departments)
                    )
    return DatabaseSession(request, token if row else None, row, person)
