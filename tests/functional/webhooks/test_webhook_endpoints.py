"""The service's administrator manages its endpoints: the owning department's clerks and the
portal's administrators, nobody else; unsafe addresses are refused, and nothing is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.services.webhooks.models import WebhookEndpoint, WebhookSecret
from tests import factories
from tests.functional.webhooks.conftest import SAME_ORIGIN, add_endpoint, free_port

PAGE = "/backoffice/services/property-tax/webhooks"


def endpoint_count(dbsession) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(WebhookEndpoint))


def test_the_owning_departments_clerk_adds_an_endpoint_whose_secret_is_shown_once(
    clara, dbsession, caplog
):
    secret = add_endpoint(clara, f"http://localhost:{free_port()}/hooks", events=("bill.paid",))
    (endpoint,) = dbsession.scalars(select(WebhookEndpoint))
    (kept,) = dbsession.scalars(select(WebhookSecret))
    assert endpoint.event_types == ["bill.paid"]
    assert secret.startswith("whsec_") and secret not in kept.secret_encrypted
    page = clara.get(PAGE)
    shown = page.html.find("section", id=f"endpoint-{endpoint.id}").get_text(" ", strip=True)
    assert "Events Bill paid Hears events from" in shown
    assert secret[:12] in page.text and secret not in page.text
    assert secret not in caplog.text and endpoint.url not in caplog.text
    (entry,) = dbsession.scalars(select(AuditEntry).where(AuditEntry.action.like("webhooks.%")))
    assert (entry.action, entry.object_type, entry.object_id) == (
        "webhooks.endpoint_added",
        "webhook_endpoint",
        str(endpoint.id),
    )
    assert entry.details == {"service": "property-tax", "events": ["bill.paid"]}


@pytest.mark.parametrize("persona", ["admin-ada"])
def test_an_administrator_manages_any_services_endpoints(signed_in, tax_service, persona):
    app = signed_in(persona)
    assert "Property tax" in app.get("/backoffice/webhooks").text
    add_endpoint(app, f"http://localhost:{free_port()}/hooks")


def test_a_clerk_of_another_department_can_neither_see_nor_add(signed_in, tax_service, dbsession):
    dan = signed_in("clerk-dan")
    assert "Property tax" not in dan.get("/backoffice/webhooks").text
    dan.get(PAGE, status=403)
    dan.post(
        PAGE,
        {"url": "https://example.org/", "events": "bill.paid"},
        headers=SAME_ORIGIN,
        status=403,
    )
    assert endpoint_count(dbsession) == 0


def test_a_citizen_is_not_let_in(signed_in, tax_service):
    signed_in("citizen-ana").get(PAGE, status=403)


@pytest.mark.parametrize(
    ("url", "told"),
    [
        ("http://93.184.215.14/hooks", "starting with https://"),
        ("ftp://localhost/hooks", "starting with https://"),
        ("https://user:pw@localhost/hooks", "starting with https://"),
        ("https://10.1.2.3/hooks", "private network"),
        ("https://169.254.169.254/latest/meta-data", "private network"),
        ("https://127.0.0.2/hooks", "private network"),
        ("https://[::ffff:192.168.0.1]/hooks", "private network"),
        ("https://100.64.0.1/hooks", "private network"),
        ("https://localhost/hooks#part", "#fragment"),
        ("https://" + "a" * 500 + ".org/", "too long"),
    ],
)
def test_unsafe_addresses_are_refused_and_nothing_is_kept(clara, dbsession, url, told, caplog):
    form = clara.get(PAGE).forms["endpoint-form"]
    form["url"] = url
    page = form.submit(headers=SAME_ORIGIN, status=422)
    assert told in page.text
    assert "refused 422 invalid" in caplog.text
    assert endpoint_count(dbsession) == 0


def test_an_endpoint_needs_a_known_event(clara, dbsession):
    token = clara.get(PAGE).forms["endpoint-form"]["csrf_token"].value
    clara.post(
        PAGE,
        {"url": "https://localhost/hooks", "events": "bill.deleted", "csrf_token": token},
        headers=SAME_ORIGIN,
        status=422,
    )
    form = clara.get(PAGE).forms["endpoint-form"]
    form["url"] = "https://localhost/hooks"
    for checkbox in form.fields["events"]:
        checkbox.checked = False
    assert "Choose at least one event." in form.submit(headers=SAME_ORIGIN, status=422).text
    assert endpoint_count(dbsession) == 0


def test_a_removed_endpoint_hears_nothing_more(clara, dbsession):
    add_endpoint(clara, f"http://localhost:{free_port()}/hooks")
    page = clara.get(PAGE)
    (remove,) = [f for f in page.forms.values() if f.action.endswith("/remove")]
    remove.submit(headers=SAME_ORIGIN, status=303)
    (endpoint,) = dbsession.scalars(select(WebhookEndpoint))
    assert endpoint.removed_at is not None
    assert "No endpoints yet." in clara.get(PAGE).text
    clara.post(f"{PAGE}/{endpoint.id}/rotate", headers=SAME_ORIGIN, status=404)


def test_a_rotation_under_way_cannot_start_another(clara, dbsession):
    add_endpoint(clara, f"http://localhost:{free_port()}/hooks")
    (endpoint,) = dbsession.scalars(select(WebhookEndpoint))
    rotate = f"{PAGE}/{endpoint.id}/rotate"
    token = clara.get(PAGE).forms["endpoint-form"]["csrf_token"].value
    clara.post(rotate, {"csrf_token": token}, headers=SAME_ORIGIN, status=200)
    page = clara.post(rotate, {"csrf_token": token}, headers=SAME_ORIGIN, status=409)
    assert "retire the old secret" in page.text
    dbsession.expire_all()
    assert dbsession.scalar(select(func.count()).select_from(WebhookSecret)) == 2


def test_another_services_endpoint_or_delivery_is_unknown_under_this_service(clara, dbsession):
    """Clara administers the property tax: the registry's endpoint, named under the property
    tax's address, is as unknown as one that does not exist, and nothing changes."""
    other = factories.service(dbsession, "vehicle-registration", department_code="registry")
    endpoint, delivery = factories.webhook_delivery(dbsession, other)
    dbsession.commit()
    token = clara.get(PAGE).forms["endpoint-form"]["csrf_token"].value
    for path in (
        f"{PAGE}/{endpoint.id}/rotate",
        f"{PAGE}/{endpoint.id}/remove",
        f"{PAGE}/deliveries/{delivery.id}/resend",
    ):
        clara.post(path, {"csrf_token": token}, headers=SAME_ORIGIN, status=404)
    clara.get("/backoffice/services/vehicle-registration/webhooks", status=403)
    dbsession.expire_all()
    assert endpoint.removed_at is None and len(endpoint.secrets) == 0
