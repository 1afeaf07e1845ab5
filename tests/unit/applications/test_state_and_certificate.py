"""The application state table, and what a certificate may load."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.applications import state
from portal.applications.certificates import ASSETS, AssetRefused, PackagedAssetsOnly
from portal.applications.models import Application


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (state.DRAFT, state.APPROVED),
        (state.DRAFT, state.IN_QUEUE),
        (state.AWAITING_PAYMENT, state.APPROVED),
        (state.AWAITING_PAYMENT, state.REJECTED),
        (state.APPROVED, state.REJECTED),
        (state.REJECTED, state.IN_QUEUE),
    ],
)
def test_transitions_outside_the_table_are_refused(start, to):
    application = Application(status=start, public_id="x" * 32)
    with pytest.raises(state.IllegalTransition):
        state.transition(None, application, to, now=dt.datetime.now(dt.UTC))
    assert application.status == start


def test_every_state_has_labels_and_a_row():
    assert set(state.TRANSITIONS) == set(state.LABELS) == set(state.EVENTS)
    for targets in state.TRANSITIONS.values():
        assert targets <= set(state.TRANSITIONS)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/track.png",
        "https://example.org/font.woff",
        "file:///etc/passwd",
        f"{ASSETS.as_uri()}/../../portal/config.py",
        "data:text/css,body{}",
        f"file://evil.example{ASSETS}/emblem.svg",
    ],
)
def test_the_certificate_loads_nothing_but_packaged_assets(url):
    with pytest.raises(AssetRefused):
        PackagedAssetsOnly().fetch(url)


def test_packaged_assets_are_served():
    response = PackagedAssetsOnly().fetch(f"{ASSETS.as_uri()}/emblem.svg")
    assert response.content_type == "image/svg+xml"
    assert response.read().startswith(b"<svg")
