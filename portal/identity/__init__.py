"""Identity: who is signed in (SAML 2.0 via python3-saml), sessions, users and their roles."""

from __future__ import annotations

from portal.i18n import _
from portal.identity.models import User
from portal.identity.sessions import SETTINGS, SessionSettings, session_factory
from portal.requests import PortalRequest


def current_user(request: PortalRequest) -> User | None:
    """The signed-in user of this request, from the server-side session: read with the
    session row in the request's one identity query, so no statement of its own."""
    session = request.session
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = getattr(session, "user", None)
    if user is not None and user.id == user_id:
        return user
    return request.dbsession.get(User, user_id)


def includeme(config) -> None:
    settings = config.get_settings()
    config.registry[SETTINGS] = SessionSettings(settings)
    # pyramid_tm would look the user up for every request only to label the transaction
    # (a ZODB notion nothing here reads): a request that needs nobody asks for nobody.
    settings.setdefault("tm.annotate_user", "false")
    config.set_session_factory(session_factory)
    config.add_request_method(current_user, "user", reify=True)
    config.add_route("account", "/account")
    config.add_route("logout", "/logout")
    config.include("portal.identity.assurance")
    config.include("portal.identity.saml")
    config.include("portal.identity.language_choice")
    config.add_navigation_item("account", _("Your account"), "account")
