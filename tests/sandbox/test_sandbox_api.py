"""The sandbox's merchant API: idempotent creation, status queries, authentication, clean 4xx."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .conftest import MERCHANT_ID


def test_same_reference_returns_the_same_payment(sandbox):
    first = sandbox.create_payment(reference="order-7")
    replay = sandbox.create_payment(reference="order-7")
    other = sandbox.create_payment(reference="order-8")

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    payment = first.json()
    assert payment["id"].startswith("psp_")
    assert payment["status"] == "pending"
    assert payment["hosted_url"] == f"{sandbox.base_url}/pay/{payment['id']}"


@pytest.mark.parametrize("change", [{"amount": 1251}, {"currency": "USD"}])
def test_reusing_a_reference_for_another_charge_conflicts(sandbox, change):
    sandbox.new_payment(reference="order-7")

    response = sandbox.create_payment(reference="order-7", **change)

    assert response.status_code == 409
    assert response.json()["code"] == "reference_conflict"


def test_status_can_be_queried_by_id_and_by_reference(sandbox):
    payment = sandbox.new_payment(reference="order-9")

    by_id = sandbox.status(payment["id"])
    by_reference = sandbox.api.get(
        f"{sandbox.base_url}/v1/payments", params={"reference": "order-9"}
    ).json()

    assert by_id == by_reference
    assert by_id["amount"] == 1250
    assert by_id["currency"] == "EUR"
    assert by_id["method"] is None
    assert by_id["refunded_amount"] == 0
    assert by_id["failure_reason"] is None


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic dGVzdA=="])
def test_api_refuses_a_missing_or_wrong_key(sandbox, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.post(f"{sandbox.base_url}/v1/payments", json={}, headers=headers)

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_key_of_one_merchant_cannot_act_for_another(sandbox):
    response = sandbox.create_payment(merchant_id="someone-else")

    assert response.status_code == 403
    assert response.json()["code"] == "merchant_mismatch"


def test_invalid_fields_are_listed(sandbox):
    response = sandbox.create_payment(
        amount=12.5,
        currency="eur",
        return_url="javascript:alert(1)",
        notify_url="",
        reference="has space",
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {
        "amount",
        "currency",
        "return_url",
        "notify_url",
        "reference",
    }
    assert sandbox.api.get(f"{sandbox.base_url}/v1/payments?reference=has space").status_code == 404


@pytest.mark.parametrize("amount", [0, -5, True, "1250", None, 10**13])
def test_amount_must_be_positive_integer_minor_units(sandbox, amount):
    response = sandbox.create_payment(amount=amount)

    assert response.status_code == 422
    assert "amount" in response.json()["errors"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/payments", b"{not json", 400, "malformed_json"),
        ("POST", "/v1/payments", b"[1, 2]", 400, "malformed_json"),
        ("POST", "/v1/payments", b"\xff\xfe", 400, "malformed_json"),
        ("GET", "/v1/payments/psp_unknown", None, 404, "payment_not_found"),
        ("GET", "/v1/payments?reference=unknown", None, 404, "payment_not_found"),
        ("GET", "/v1/payments", None, 400, "reference_required"),
        (
            "POST",
            "/v1/payments/psp_unknown/refunds",
            b'{"amount": 1, "reference": "r"}',
            404,
            "payment_not_found",
        ),
        ("POST", "/v1/payments/psp_unknown/refunds", b"nope", 400, "malformed_json"),
        ("GET", "/v1/settlements/2024-02-30.csv", None, 400, "invalid_date"),
        ("GET", "/v1/settlements/yesterday.csv", None, 400, "invalid_date"),
        ("DELETE", "/v1/payments/psp_unknown", None, 405, "method_not_allowed"),
        ("GET", "/v2/anything", None, 404, "not_found"),
    ],
)
def test_bad_requests_get_a_json_problem_not_a_500(sandbox, method, path, body, status, code):
    response = sandbox.api.request(method, f"{sandbox.base_url}{path}", data=body)

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert response.json()["status"] == status


def test_other_merchants_payments_are_invisible(start_sandbox, tmp_path):
    payment = start_sandbox().new_payment()
    other = start_sandbox(merchant_id="other-merchant", api_key="other-key")

    response = other.api.get(f"{other.base_url}/v1/payments/{payment['id']}")

    assert response.status_code == 404
    assert MERCHANT_ID not in response.text


def test_healthz(sandbox):
    assert requests.get(f"{sandbox.base_url}/healthz").json() == {"status": "ok"}


def test_concurrent_retries_of_one_reference_create_one_payment(sandbox):
    def create(_):
        return requests.post(
            f"{sandbox.base_url}/v1/payments",
            json=sandbox.payment_body(reference="race"),
            headers={"Authorization": sandbox.api.headers["Authorization"]},
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(8)))

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
