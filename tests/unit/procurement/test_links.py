"""Links to other parts' pages are made only when their route is registered."""

from pyramid import testing

from portal.procurement.links import route_exists, route_path_or_none


def test_a_link_to_a_route_not_registered_is_none_not_a_key_error():
    with testing.testConfig() as config:
        config.add_route("tender_auction", "/tenders/{reference}/auction")
        request = testing.DummyRequest()
        assert route_exists(request, "tender_auction")
        assert route_path_or_none(request, "tender_auction", reference="T-1") == (
            "/tenders/T-1/auction"
        )
        assert not route_exists(request, "tender_complaint_new")
        assert route_path_or_none(request, "tender_complaint_new", reference="T-1") is None
