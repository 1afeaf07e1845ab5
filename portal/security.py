"""Who may do what: the security policy and the principals a signed-in person holds.

Permission checks read the object a request is about: route factories build a context
(a bill, an organisation's bid, a department's queue) whose ``__acl__`` names the
principals below. Every view declares a permission; :data:`PUBLIC` marks the ones that
are deliberately open.
"""

from __future__ import annotations

import secrets

from pyramid.authorization import ACLHelper, Allow, Authenticated, Everyone
from pyramid.csrf import CookieCSRFStoragePolicy, SessionCSRFStoragePolicy
from pyramid.interfaces import ICSRFStoragePolicy, ISecurityPolicy
from pyramid.security import NO_PERMISSION_REQUIRED
from zope.interface import implementer

from portal.requests import PortalRequest, SignedInPerson
from portal.settings import setting_bool

#: a view open to anyone, declared on purpose
PUBLIC = NO_PERMISSION_REQUIRED
#: the default permission: nobody holds it, so a view that forgets ``permission=`` is closed
UNDECLARED = "undeclared-permission"

ROLE_CITIZEN = "role:citizen"
ROLE_BUSINESS = "role:business"
ROLE_CLERK = "role:clerk"
ROLE_BUYER = "role:buyer"
ROLE_ADMIN = "role:admin"
#: decides complaints against tender awards (the review body, independent of departments)
ROLE_REVIEWER = "role:reviewer"
#: reads the audit log (read-only: none of the clerk permissions)
ROLE_AUDITOR = "role:auditor"

#: permissions only a department's clerks and administrators hold: clerk work, whose views
#: declare ``assurance=CLERK`` (see :mod:`portal.identity.assurance`)
CLERK_PERMISSIONS = frozenset(
    {
        "backoffice",
        "administer",
        "work",
        "import",
        "refund",
        "review",
        "decide",
        "buy",
        "open",
        "committee",
        "adjudicate",
    }
)
#: permissions to pay, whose views declare ``assurance=PAY``
PAY_PERMISSIONS = frozenset({"pay"})


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def organisation_principal(organisation_id: int) -> str:
    return f"organisation:{organisation_id}"


def department_principal(department_id: int) -> str:
    return f"department:{department_id}"


def buyer_principal(department_id: int) -> str:
    return f"buyer:{department_id}"


def service_principal(service_id: int) -> str:
    return f"service:{service_id}"


def principals_for(user: SignedInPerson) -> list[str]:
    """Principals of a signed-in ``user``; one person can hold several roles."""
    principals = [Everyone, Authenticated, user_principal(user.id), ROLE_CITIZEN]
    for organisation_id in user.organisation_ids:
        principals += [ROLE_BUSINESS, organisation_principal(organisation_id)]
    for department_id in user.department_ids:
        principals += [ROLE_CLERK, department_principal(department_id)]
    for department_id in user.buying_department_ids:
        principals += [ROLE_BUYER, buyer_principal(department_id)]
    if user.is_admin:
        principals.append(ROLE_ADMIN)
    if user.is_reviewer:
        principals.append(ROLE_REVIEWER)
    if user.is_auditor:
        principals.append(ROLE_AUDITOR)
    return list(dict.fromkeys(principals))


class Root:
    """The default context: pages about no particular object."""

    __acl__ = [
        (Allow, Everyone, "browse"),
        (Allow, Authenticated, "account"),
        (Allow, ROLE_BUSINESS, "bid"),
        (Allow, ROLE_BUYER, "buy"),
        (Allow, ROLE_CLERK, "committee"),
        (Allow, ROLE_REVIEWER, "adjudicate"),
        (Allow, ROLE_CLERK, "backoffice"),
        (Allow, ROLE_ADMIN, "backoffice"),
        (Allow, ROLE_ADMIN, "administer"),
        (Allow, ROLE_AUDITOR, "audit"),
        (Allow, ROLE_ADMIN, "audit"),
    ]

    def __init__(self, request: PortalRequest):
        self.request = request


#: the ACL reader; it keeps no state, so one serves every request
_ACL = ACLHelper()
#: where a request keeps its principals once worked out (who it is does not change after)
_PRINCIPALS = "portal.principals"


class SecurityPolicy:
    """Identity from the server-side session (see :mod:`portal.identity.sessions`), or for
    API calls a service's bearer key (``request.api_key``, see :mod:`portal.api.auth`).

    The principals are worked out once per request (a page asks for a dozen permissions,
    one per navigation entry) from what the one identity query read: no query of their own.
    """

    def identity(self, request: PortalRequest):
        return request.person

    def authenticated_userid(self, request: PortalRequest) -> int | None:
        person = request.person
        return None if person is None else person.id

    def principals(self, request: PortalRequest) -> tuple[str, ...]:
        """Who is asking, as the ACLs name them (Pyramid 2's ``request.effective_principals``
        no longer asks a security policy like this one: use :func:`principals_of`)."""
        api_key = getattr(request, "api_key", None)
        if api_key is not None:
            return (Everyone, service_principal(api_key.service_id))
        person = request.person
        if person is None:
            return (Everyone,)
        # Kept with the person they were worked out for: the values the identity query read
        # are replaced by the ORM user once a view makes it (sign-in may change its roles).
        cached = request.__dict__.get(_PRINCIPALS)
        if cached is not None and cached[0] is person:
            return cached[1]
        principals = tuple(principals_for(person))
        request.__dict__[_PRINCIPALS] = (person, principals)
        return principals

    def permits(self, request: PortalRequest, context, permission: str):
        return _ACL.permits(context, self.principals(request), permission)

    def remember(self, request: PortalRequest, userid, **kw) -> list:
        return []

    def forget(self, request: PortalRequest, **kw) -> list:
        return []


#: the cookie holding the CSRF token of a visitor without a session
CSRF_COOKIE_NAME = "portal_csrf"


class _CookieTokens(CookieCSRFStoragePolicy):
    """Tokens as random as the session's (256 bits, URL-safe), not Pyramid's UUIDs."""

    _token_factory = staticmethod(lambda: secrets.token_urlsafe(32))


@implementer(ICSRFStoragePolicy)
class CSRFTokens:
    """Where a visitor's CSRF token is kept: in their session when they have one (everyone
    signed in does), else in a cookie of its own that the form must repeat (OWASP's
    double-submit cookie). Every page has a form (the language picker), and a page shown to
    a visitor without a session must not make one: that would write a row on the server for
    every page anyone reads."""

    def __init__(self, secure: bool):
        self.in_session = SessionCSRFStoragePolicy()
        self.in_cookie = _CookieTokens(
            cookie_name=CSRF_COOKIE_NAME, secure=secure, httponly=True, samesite="Lax"
        )

    def _kept(self, request):
        return self.in_cookie if request.session.new else self.in_session

    def new_csrf_token(self, request) -> str:
        return self._kept(request).new_csrf_token(request)

    def get_csrf_token(self, request) -> str:
        return self._kept(request).get_csrf_token(request)

    def check_csrf_token(self, request, supplied_token: str) -> bool:
        return self._kept(request).check_csrf_token(request, supplied_token)


def principals_of(request: PortalRequest) -> tuple[str, ...]:
    """Who ``request`` is, as the ACLs name them (worked out once per request)."""
    return request.registry.getUtility(ISecurityPolicy).principals(request)


def includeme(config) -> None:
    config.set_root_factory(Root)
    config.set_security_policy(SecurityPolicy())
    config.set_csrf_storage_policy(
        CSRFTokens(secure=setting_bool(config.get_settings(), "portal.secure_cookies"))
    )
    config.set_default_csrf_options(require_csrf=True)
