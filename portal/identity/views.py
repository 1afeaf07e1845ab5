"""Pages about the signed-in person."""

from pyramid.view import view_config

from portal.identity.pii import national_id_of


@view_config(route_name="account", renderer="identity/account.jinja2", permission="account")
def account(request):
    """What the portal knows about me, in which capacities I may act, and the language my
    pages, e-mails and documents are written in (changed through the language picker's
    view, :func:`portal.identity.language_choice.choose_language`)."""
    return {"user": request.user, "national_id": national_id_of(request, request.user)}
