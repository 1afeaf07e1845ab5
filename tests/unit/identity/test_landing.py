"""The checks that keep sign-in from sending anyone to another site."""

import pytest
from pyramid.registry import Registry
from pyramid.request import Request

from portal.identity.landing import came_from, return_path
from tests.functional.test_sign_in_landing import OPEN_REDIRECTS


@pytest.mark.parametrize("value", [*OPEN_REDIRECTS, "", "/", "/?next=/x", None, 42, "/" * 2001])
def test_anything_a_browser_could_read_as_another_site_is_refused(value):
    assert return_path(value) is None


@pytest.mark.parametrize(
    "value", ["/bills", "/bills?service=water&page=2", "/applications/abc/pay", "/a%2F%2Fb"]
)
def test_paths_on_this_site_are_kept_as_they_are(value):
    assert return_path(value) == value


@pytest.fixture
def registry():
    registry = Registry()
    registry.settings = {"portal.base_url": "https://portal.example/city"}
    return registry


def request_for(registry, method, path, referer=None):
    headers = {"Referer": referer} if referer else {}
    request = Request.blank(
        path, base_url="https://portal.example/city", method=method, headers=headers
    )
    request.registry = registry
    return request


def test_a_page_asked_for_by_get_is_its_own_destination(registry):
    assert came_from(request_for(registry, "GET", "/bills?page=2")) == "/city/bills?page=2"


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("https://portal.example/city/bills?service=water", "/city/bills?service=water"),
        ("https://evil.example/city/bills", None),
        ("http://portal.example/city/bills", None),
        ("https://portal.example/elsewhere", None),
        ("https://portal.example.evil.example/city/bills", None),
        ("//portal.example/city/bills", None),
        (None, None),
    ],
)
def test_a_form_came_from_the_page_in_referer_only_if_it_is_this_site(registry, referer, expected):
    assert came_from(request_for(registry, "POST", "/bills/pay", referer)) == expected
