"""Links to pages that other parts of procurement may or may not have registered.

Procurement grows in parts (the auction, complaints, the contract), each adding its own
routes; a page that links to one of them asks here first, so a part not installed is a link
left out rather than the ``KeyError`` Pyramid raises for an unknown route.
"""

from __future__ import annotations

from pyramid.interfaces import IRoutesMapper


def route_exists(request, name: str) -> bool:
    """Whether a route called ``name`` is registered."""
    return request.registry.getUtility(IRoutesMapper).get_route(name) is not None


def route_path_or_none(request, name: str, **parts) -> str | None:
    """The path of route ``name`` with ``parts``, or None when no such route is registered."""
    if not route_exists(request, name):
        return None
    return request.route_path(name, **parts)
