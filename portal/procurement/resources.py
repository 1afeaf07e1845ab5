"""The context of a tender's pages, and who may do what with it.

Anyone may read a published tender ("view"); its department's buyers may read and manage it
from the draft on ("buy"); representatives of any organisation may bid on a published one
("bid"; which organisation they act for is checked against their own organisations); the
clerks named on its committee may open it ("open"). Whether the tender's status allows the
action at this moment is the action's own check, not the ACL's.
"""

from __future__ import annotations

from pyramid.authorization import Allow, Everyone
from pyramid.httpexceptions import HTTPNotFound
from sqlalchemy import select

from portal.procurement import state
from portal.procurement.models import Tender
from portal.security import ROLE_ADMIN, ROLE_BUSINESS, buyer_principal, user_principal

#: T-2027-000012
_REFERENCE_LENGTH = 13


class TenderContext:
    def __init__(self, tender: Tender):
        self.tender = tender

    @property
    def __acl__(self):
        tender = self.tender
        buyer = buyer_principal(tender.department_id)
        acl = [(Allow, buyer, "view"), (Allow, buyer, "buy"), (Allow, ROLE_ADMIN, "view")]
        if tender.status in state.PUBLISHED:
            acl += [(Allow, Everyone, "view"), (Allow, ROLE_BUSINESS, "bid")]
            acl += [(Allow, user_principal(seat.member_id), "open") for seat in tender.committee]
        return acl


def tender_factory(request) -> TenderContext:
    """The tender named by the route's ``reference``; a draft is found only by those who may
    see it (the ACL), everyone else gets the same 404 as for a tender that does not exist."""
    reference = request.matchdict["reference"]
    if len(reference) != _REFERENCE_LENGTH:
        raise HTTPNotFound()
    tender = request.dbsession.scalar(select(Tender).where(Tender.reference == reference))
    if tender is None:
        raise HTTPNotFound()
    context = TenderContext(tender)
    if tender.status not in state.PUBLISHED and not request.has_permission("buy", context):
        raise HTTPNotFound()
    return context
