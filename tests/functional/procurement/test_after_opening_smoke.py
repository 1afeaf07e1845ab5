from portal.procurement import prices
from tests.functional.procurement.after_opening import opened_tender


def test_three_bids_open(wsgi_app, devidp, sandbox, dbsession, clock, departments):
    made = opened_tender(wsgi_app, devidp, sandbox, dbsession, clock)
    tender = made.tender
    assert tender.status == "evaluation"
    valid = prices.valid_bids(dbsession, tender)
    assert sorted(v.price.minor for v in valid) == [17695000, 18240000, 19000000]
    assert made.bid(dbsession, "rep-quinn").deposit.status == "held"
