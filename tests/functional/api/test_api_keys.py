"""Service API keys: stored hashed, made by the console script, and the only way in to a
service's bills; another service's bill is as unknown as one that does not exist."""

import hashlib

import pytest
from sqlalchemy import select

from portal.api.models import ApiKey
from portal.db import utcnow
from tests import factories
from tests.functional.api.conftest import bill_count, conforms, new_bill


@pytest.fixture
def water_bill(water, ana):
    return water.post("/api/v1/bills", new_bill(), status=201).json["public_id"]


def service_requests(public_id):
    return [
        ("post", "/api/v1/bills", "/api/v1/bills", new_bill(number="W-X")),
        ("get", f"/api/v1/bills/{public_id}", "/api/v1/bills/{public_id}", None),
        (
            "post",
            f"/api/v1/bills/{public_id}/cancel",
            "/api/v1/bills/{public_id}/cancel",
            {"reason": "sent in error"},
        ),
        ("get", f"/api/v1/bills/{public_id}/payments", "/api/v1/bills/{public_id}/payments", None),
    ]


def call(app, method, path, body, headers):
    if method == "get":
        return app.get(path, headers=headers, expect_errors=True)
    return app.post_json(path, body, headers=headers, expect_errors=True)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"Authorization": "Bearer ptl_not-a-key-of-anyone-at-all-0123456789"}, "invalid_token"),
        ({"Authorization": "Bearer "}, "invalid_token"),
        ({"Authorization": "Basic d2F0ZXI6c2VjcmV0"}, "invalid_token"),
    ],
    ids=["missing", "unknown", "empty", "not-bearer"],
)
def test_service_routes_refuse_a_missing_or_invalid_key_with_401(
    water, water_bill, dbsession, headers, error
):
    before = bill_count(dbsession)
    for method, path, template, body in service_requests(water_bill):
        response = call(water.app, method, path, body, headers)
        assert response.status_int == 401, (method, path)
        conforms(response, template, method)
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer")
        assert ("invalid_token" in challenge) == (error is not None)
    assert bill_count(dbsession) == before
    assert water.get(f"/api/v1/bills/{water_bill}").json["status"] == "open"


def test_a_revoked_key_is_refused(water, water_bill, dbsession):
    water.get(f"/api/v1/bills/{water_bill}", status=200)
    key = dbsession.get(ApiKey, water.api_key.id)
    key.revoked_at = utcnow()
    dbsession.commit()
    response = water.get(f"/api/v1/bills/{water_bill}", status=401)
    assert response.json["title"] == "API key required"
    water.post("/api/v1/bills", new_bill(number="W-2"), status=401)


def test_another_services_bill_is_not_found(water, tax_office, water_bill, dbsession):
    for method, path, template, body in service_requests(water_bill)[1:]:
        response = call(tax_office.app, method, path, body, tax_office.headers)
        assert response.status_int == 404, (method, path)
        conforms(response, template, method)
    assert water.get(f"/api/v1/bills/{water_bill}").json["status"] == "open"


def test_an_unknown_bill_is_not_found(water):
    conforms(water.get("/api/v1/bills/" + "0" * 32, status=404), "/api/v1/bills/{public_id}")
    water.get("/api/v1/bills/short", status=404)


def test_a_signed_in_session_is_no_service_key(signed_in, ana, dbsession):
    """A payer's browser session cannot issue bills, even without CSRF in the way."""
    app = signed_in("citizen-ana")
    response = app.post_json("/api/v1/bills", new_bill(), status=401)
    assert response.content_type == "application/problem+json"
    assert bill_count(dbsession) == 0


def test_keys_are_stored_only_as_a_hash(water, dbsession):
    stored = dbsession.scalar(select(ApiKey).where(ApiKey.id == water.api_key.id))
    assert stored.key_hash == hashlib.sha256(water.token.encode()).hexdigest()
    assert water.token.startswith(stored.prefix) and len(stored.prefix) < len(water.token) // 2
    assert len(water.token) >= 40
    columns = [getattr(stored, column.key) for column in ApiKey.__table__.columns]
    assert water.token not in [str(value) for value in columns]


def test_console_script_makes_a_working_key_and_prints_it_once(
    tmp_path, app_settings, dbsession, water, ana, capsys
):
    from portal.scripts.api_key import main

    factories.service(dbsession, "waste")
    dbsession.commit()
    ini = tmp_path / "test.ini"
    ini.write_text(
        "[app:main]\nuse = egg:portal\n"
        + "".join(
            f"{name} = {value}\n".replace("\n", "\n    ", value.count("\n"))
            for name, value in app_settings.items()
        )
    )
    assert main([str(ini), "waste", "Waste billing"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    stored = dbsession.scalar(select(ApiKey).where(ApiKey.name == "Waste billing"))
    assert stored.service.code == "waste"
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest()
    created = water.app.post_json(
        "/api/v1/bills",
        new_bill(number="WASTE-1"),
        headers={"Authorization": f"Bearer {token}"},
        status=201,
    )
    assert created.json["service"]["code"] == "waste"
    assert main([str(ini), "no-such-service", "x"]) == 1
