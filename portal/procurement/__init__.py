"""Procurement: public tenders and sealed bids.

A department's buyers prepare, publish and amend tenders (`tenders`); organisations' representatives
file sealed bids, paying the bid fee and lodging the bid security on the billing core (`bids`);
after the deadline the tender's committee unlocks its key shares and opens the bids (`opening`).
Nobody, the portal included, can read a bid before m of the tender's n committee members have
unlocked their shares with their passphrases (`committee_keys`, `sealing`). The lifecycle is
one state table (`state`), moved on by the clock.
"""

from pyramid.events import BeforeRender

from portal.procurement.local_times import add_template_globals


def includeme(config) -> None:
    config.add_subscriber(add_template_globals, BeforeRender)
    config.include("portal.procurement.documents")
    config.include("portal.procurement.opening_views")
    config.include("portal.procurement.bid_views")
    config.include("portal.procurement.buyer_views")
    config.include("portal.procurement.public_views")
    config.include("portal.procurement.contract_views")
    config.include("portal.procurement.evaluation_views")
    config.include("portal.procurement.complaint_views")
    config.include("portal.procurement.ocds")
    config.include("portal.procurement.auction_views")
