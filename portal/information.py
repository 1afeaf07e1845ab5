"""The pages every public website owes its visitors, linked from every page's footer: the
accessibility statement, the privacy notice and how to contact the authority.

They are public (no sign-in) and read the authority's contact details from the settings, so a
city publishes its own address, e-mail and telephone without changing a template.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyramid.view import view_config

from portal.security import PUBLIC
from portal.settings import setting_lines


@dataclass(frozen=True)
class Contact:
    """How people reach the office that runs the portal."""

    email: str
    phone: str
    address: list[str]
    hours: str


def contact(settings: dict) -> Contact:
    """The contact details from ``portal.contact_*``, falling back to the sender of the
    portal's e-mails and the address printed on receipts."""
    address = setting_lines(settings, "portal.contact_address") or [
        part.strip()
        for part in settings.get("receipts.authority_address", "").split(",")
        if part.strip()
    ]
    return Contact(
        email=settings.get("portal.contact_email") or settings.get("mail.default_sender", ""),
        phone=settings.get("portal.contact_phone", ""),
        address=address,
        hours=settings.get("portal.contact_hours", ""),
    )


def _page(request) -> dict:
    settings = request.registry.settings
    return {
        "contact": contact(settings),
        "idle_minutes": settings.get("portal.session.idle_minutes", "30"),
        "max_hours": settings.get("portal.session.max_hours", "12"),
    }


@view_config(route_name="accessibility", renderer="pages/accessibility.jinja2", permission=PUBLIC)
def accessibility(request):
    return _page(request)


@view_config(route_name="privacy", renderer="pages/privacy.jinja2", permission=PUBLIC)
def privacy(request):
    return _page(request)


@view_config(route_name="contact", renderer="pages/contact.jinja2", permission=PUBLIC)
def contact_page(request):
    return _page(request)


def includeme(config) -> None:
    config.add_route("accessibility", "/accessibility")
    config.add_route("privacy", "/privacy")
    config.add_route("contact", "/contact")
