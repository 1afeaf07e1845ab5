"""A clerk sets up their personal committee key, once, under a passphrase only they know.

The portal keeps the key's private half only encrypted under that passphrase (Argon2id, see
:mod:`portal.procurement.committee_keys`) and cannot recover a lost one. A key may be
replaced (after a lost passphrase, say) only while its holder sits on no tender that is
published and not yet opened: their share of such a tender is encrypted to the old key, and a
new key would leave the committee a member short without anyone seeing it. With a published
tender they hold a share of, the threshold is the committee's margin for a lost passphrase.
"""

from __future__ import annotations

import logging
import unicodedata

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.procurement import state
from portal.procurement.committee_keys import create_committee_key
from portal.procurement.models import CommitteeKey, CommitteeSeat, Tender
from portal.procurement.tenders import committee_key_of
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: long enough that a phrase of a few words is needed; Argon2id does the rest
MINIMUM_PASSPHRASE = 12
MAXIMUM_PASSPHRASE = 1024
#: tenders whose key shares exist and still matter: published and not yet opened
LIVE = frozenset({state.QUESTIONS, state.BIDDING, state.AWAITING_OPENING})


def seats_of(dbsession, user) -> list[Tender]:
    """The published tenders ``user`` sits on the committee of, newest first."""
    return list(
        dbsession.scalars(
            select(Tender)
            .join(CommitteeSeat, CommitteeSeat.tender_id == Tender.id)
            .where(CommitteeSeat.member_id == user.id, Tender.status.in_(state.PUBLISHED))
            .order_by(Tender.opening_at.desc(), Tender.id.desc())
        )
    )


def render_page(request, errors=None):
    tenders = seats_of(request.dbsession, request.user)
    translate = request.localizer.translate
    return render_to_response(
        "procurement/opening/committee_key.jinja2",
        {
            "key": committee_key_of(request.dbsession, request.user),
            "tenders": tenders,
            "live": [tender for tender in tenders if tender.status in LIVE],
            "status_label": lambda status: translate(state.LABELS[status]),
            "minimum": MINIMUM_PASSPHRASE,
            "errors": {field: translate(message) for field, message in (errors or {}).items()},
        },
        request=request,
        response=request.response,
    )


@view_config(
    route_name="committee_key", request_method="GET", permission="committee", assurance=CLERK
)
def committee_key_page(request):
    return render_page(request)


@view_config(
    route_name="committee_key", request_method="POST", permission="committee", assurance=CLERK
)
def set_up_committee_key(request):
    passphrase = request.POST.get("passphrase", "")
    again = request.POST.get("passphrase_again", "")
    try:
        checked = checked_passphrase(passphrase, again)
        existing = committee_key_of(request.dbsession, request.user)
        if existing is not None and any(
            tender.status in LIVE for tender in seats_of(request.dbsession, request.user)
        ):
            raise Refusal(
                CONFLICT,
                _(
                    "You sit on the committee of a tender that is not opened yet, and your "
                    "share of its key is encrypted to your present committee key. It cannot be "
                    "replaced until those tenders are opened."
                ),
            )
    except Refusal as refusal:
        return render_page(request, form_refused(request, refusal))
    made = create_committee_key(checked)
    now = request.clock.now()
    if existing is None:
        request.dbsession.add(
            CommitteeKey(
                user_id=request.user.id,
                public_key=made.public_key,
                sealed_private_key=made.sealed_private_key,
                created_at=now,
            )
        )
    else:
        existing.public_key = made.public_key
        existing.sealed_private_key = made.sealed_private_key
        existing.created_at = now
    request.dbsession.flush()
    log.info(
        "committee key of user %s %s", request.user.id, "set up" if existing is None else "replaced"
    )
    request.session.flash(request.localizer.translate(_("Your committee key is set up.")))
    return HTTPSeeOther(request.route_url("committee_key"))


def checked_passphrase(passphrase: str, again: str) -> str:
    """The passphrase, if it was typed the same twice and is long enough (counted in
    characters as the key derivation sees them, NFC)."""
    if unicodedata.normalize("NFC", passphrase) != unicodedata.normalize("NFC", again):
        raise Refusal(
            INVALID,
            _("The two passphrases differ. Type the same passphrase twice."),
            errors=[
                FieldError(
                    "passphrase_again",
                    _("The two passphrases differ. Type the same passphrase twice."),
                )
            ],
        )
    length = len(unicodedata.normalize("NFC", passphrase))
    if not MINIMUM_PASSPHRASE <= length <= MAXIMUM_PASSPHRASE:
        mapping = {"minimum": MINIMUM_PASSPHRASE, "maximum": MAXIMUM_PASSPHRASE}
        raise Refusal(
            INVALID,
            _("Choose a passphrase of ${minimum} to ${maximum} characters.", mapping=mapping),
            errors=[
                FieldError(
                    "passphrase",
                    _(
                        "Choose a passphrase of ${minimum} to ${maximum} characters.",
                        mapping=mapping,
                    ),
                )
            ],
        )
    return passphrase


def includeme(config) -> None:
    config.add_route("committee_key", "/procurement/committee-key")
    config.add_navigation_item("committee_key", _("Committee key"), "committee")
