"""Identity: who is signed in (SAML 2.0 via python3-saml), sessions, users and their roles."""

from __future__ import annotations

from portal.i18n import _
from portal.identity.models import User
from portal.identity.requests import IdentifiedRequest
from portal.identity.sessions import SETTINGS, SessionSettings, SignedIn, session_factory
from portal.requests import PortalRequest


def _read_with_session(request: PortalRequest, user_id: int) -> SignedIn | None:
    person = getattr(request.session, "person", None)
    return person if person is not None and person.id == user_id else None


def current_user(request: PortalRequest) -> User | None:
    """The signed-in user of this request as an ORM object, from the server-side session:
    made from what the request's one identity query read, so no statement of its own."""
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    person = _read_with_session(request, user_id)
    if person is not None:
        return person.user(request.dbsession)
    return request.dbsession.get(User, user_id)


def current_person(request: IdentifiedRequest) -> User | SignedIn | None:
    """Who is signed in, for the permission checks, the page header and the language: the
    values the identity query read (no ORM work), unless the request holds the ORM user (a
    view asked for it, or loaded it): that is then the truth, as signing in may have just
    changed its memberships."""
    if "user" in request.__dict__:
        return request.__dict__["user"]
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    person = _read_with_session(request, user_id)
    if person is None or request.dbsession.identity_map.get(person.identity_key) is not None:
        return request.user
    return person


def includeme(config) -> None:
    settings = config.get_settings()
    config.registry[SETTINGS] = SessionSettings(settings)
    # pyramid_tm would look the user up for every request only to label the transaction
    # (a ZODB notion nothing here reads): a request that needs nobody asks for nobody.
    settings.setdefault("tm.annotate_user", "false")
    config.set_session_factory(session_factory)
    config.add_request_method(current_user, "user", reify=True)
    config.add_request_method(current_person, "person", property=True)
    config.add_route("account", "/account")
    config.add_route("logout", "/logout")
    config.include("portal.identity.assurance")
    config.include("portal.identity.saml")
    config.include("portal.identity.language_choice")
    config.add_navigation_item("account", _("Your account"), "account")
