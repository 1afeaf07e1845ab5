"""The OCDS list of tenders comes a page at a time, newest publication first, with
``links.next`` / ``links.prev`` as OCDS packages have them; a bad page is a 400 problem."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from portal.procurement.ocds import views
from tests import factories
from tests.functional.api.conftest import conforms

LIST = "/api/v1/ocds/tenders"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_list_comes_in_pages_newest_first_linked_both_ways(
    testapp, dbsession, clock, monkeypatch
):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    made = []
    for _ in range(5):
        made.append(factories.tender(dbsession, now=clock.now()).reference)
        clock.advance(hours=1)
    dbsession.commit()

    first = conforms(testapp.get(LIST, status=200), LIST)
    assert [entry["reference"] for entry in first["tenders"]] == made[::-1][:2]
    assert set(first["links"]) == {"next"}
    assert first["links"]["next"].endswith(f"{LIST}?page=2")

    seen, page = [], first
    while True:
        seen += [entry["reference"] for entry in page["tenders"]]
        if "next" not in page["links"]:
            break
        following = conforms(testapp.get(_path(page["links"]["next"]), status=200), LIST)
        back = testapp.get(_path(following["links"]["prev"]), status=200).json
        assert back == page
        page = following
    assert seen == made[::-1]
    assert len(page["tenders"]) == 1 and page["links"]["prev"].endswith(f"{LIST}?page=2")
    assert testapp.get(f"{LIST}?page=1", status=200).json == first

    # past the last page: nothing more, and the way back
    past = conforms(testapp.get(f"{LIST}?page=9", status=200), LIST)
    assert past["tenders"] == [] and set(past["links"]) == {"prev"}


def test_the_real_page_holds_a_hundred(testapp, dbsession, clock):
    for _ in range(101):
        factories.tender(dbsession, now=clock.now())
    dbsession.commit()
    first = testapp.get(LIST, status=200).json
    assert len(first["tenders"]) == 100 and "next" in first["links"]
    second = testapp.get(f"{LIST}?page=2", status=200).json
    assert len(second["tenders"]) == 1 and "next" not in second["links"]


BAD_PAGES = [
    "0",
    "-1",
    "abc",
    "1.5",
    "",
    " 2",
    "²",
    "100001",
    "9" * 40,
    "1" * 5000,
    "02",
    ["1", "2"],
]


@pytest.mark.parametrize("page", BAD_PAGES)
def test_a_bad_page_is_a_400_problem(testapp, page):
    response = testapp.get(LIST, {"page": page}, status=400)
    problem = conforms(response, LIST)
    assert problem["status"] == 400 and "whole number" in problem["detail"]


def test_another_query_parameter_is_a_400_problem(testapp):
    response = testapp.get(LIST, {"pgae": "2"}, status=400)
    assert "only the query parameter page" in conforms(response, LIST)["detail"]
