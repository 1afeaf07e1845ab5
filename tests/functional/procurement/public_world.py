"""What the public tender pages' tests share: browsers for personas, tenders made at a moment
of the test clock, and a page's visible text."""

from __future__ import annotations

import datetime as dt
import re

import webtest

from tests import factories
from tests.conftest import sign_in

ZONE = "Europe/Ljubljana"


def browser(wsgi_app, devidp=None, persona: str | None = None) -> webtest.TestApp:
    """A browser of its own (cookies and all), signed in as ``persona`` unless it is None."""
    app = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    if persona is not None:
        response = sign_in(app, devidp, persona)
        assert response.status_int == 303, response.text
    return app


def make_tender(dbsession, clock, now: dt.datetime, **changes):
    """A tender published ``now`` (the clock set there while it is made), with ``changes``
    to its columns or, for ``cpv``, to its one item's CPV code; committed."""
    clock.set(now)
    cpv = changes.pop("cpv", None)
    department = changes.pop("department", None)
    tender = factories.tender(dbsession, now=now, **changes.pop("factory", {}))
    if cpv is not None:
        tender.items[0].cpv_code = cpv
    if department is not None:
        tender.department = factories.department(dbsession, *department)
    for name, value in changes.items():
        setattr(tender, name, value)
    dbsession.commit()
    return tender


def text_of(response) -> str:
    """The page's text without its markup, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def references(response) -> list[str]:
    """The tender references listed on the tenders page, in their order."""
    return re.findall(r'<span class="usa-hint">(T-\d{4}-\d{6})</span>', response.text)
