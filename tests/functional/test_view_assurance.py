"""Every clerk page and every paying step declares the level of assurance it needs on its
view configuration, so a view cannot silently forget the check."""

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from portal.identity.assurance import CLERK, PAY
from portal.security import CLERK_PERMISSIONS, PAY_PERMISSIONS

#: clerk pages live under these paths, whatever permission their views name
CLERK_PATHS = ("/backoffice", "/admin")
#: views that pay without a payment to pay yet (the route creates the payment)
PAY_ROUTES = {"pay"}
#: views with a paying permission that move no money, so any sign-in may use them
NOT_PAYING_ROUTES = {"payment_cancel"}


def routed_views(app):
    """(route name, route pattern, permission, assurance) for every view bound to a route."""
    introspector = app.registry.introspector
    found = []
    for route in introspector.get_category("routes"):
        name = route["introspectable"]["name"]
        pattern = route["introspectable"]["pattern"]
        for view in route["related"]:
            if view.category_name != "views":
                continue
            permissions = [
                related["value"]
                for related in introspector.related(view)
                if related.category_name == "permissions"
            ]
            permission = permissions[0] if permissions else None
            found.append((name, pattern, permission, view.get("assurance")))
    return found


def is_clerk_view(pattern: str, permission) -> bool:
    under_clerk_path = any(
        pattern == prefix or pattern.startswith(prefix + "/") for prefix in CLERK_PATHS
    )
    return under_clerk_path or permission in CLERK_PERMISSIONS


def test_every_clerk_view_declares_clerk_assurance(wsgi_app):
    views = routed_views(wsgi_app)
    clerk_views = [view for view in views if is_clerk_view(view[1], view[2])]
    assert len(clerk_views) >= 17, "clerk views not found: the introspection is broken"
    undeclared = [
        (name, permission) for name, _, permission, assurance in clerk_views if assurance != CLERK
    ]
    assert undeclared == []


def test_every_paying_view_declares_pay_assurance(wsgi_app):
    views = routed_views(wsgi_app)
    paying = [
        view
        for view in views
        if (view[2] in PAY_PERMISSIONS or view[0] in PAY_ROUTES)
        and view[0] not in NOT_PAYING_ROUTES
    ]
    assert len(paying) >= 5, "paying views not found: the introspection is broken"
    undeclared = [
        (name, permission) for name, _, permission, assurance in paying if assurance != PAY
    ]
    assert undeclared == []


def test_assurance_is_declared_only_where_it_is_needed(wsgi_app):
    """A citizen's or the public's page that asks for clerk assurance would lock them out."""
    misplaced = [
        name
        for name, pattern, permission, assurance in routed_views(wsgi_app)
        if assurance == CLERK and not is_clerk_view(pattern, permission)
    ]
    assert misplaced == []


def test_an_unknown_assurance_is_a_configuration_error():
    config = Configurator()
    config.include("portal.identity.assurance")
    config.add_route("strange", "/strange")
    config.add_view(lambda request: {}, route_name="strange", renderer="json", assurance="high")
    with pytest.raises(ConfigurationError, match="assurance must be"):
        config.commit()
