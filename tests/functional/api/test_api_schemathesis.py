"""Schemathesis explores ``/api/v1`` as the OpenAPI document describes it: in-process against
the WSGI app, with a real service key and a real payer's session, over bills and a payment it
can reach. Every answer must be below 500, documented, of the documented media type and
schema; data the document calls valid is accepted and data it calls invalid is refused. The
stateful run follows the document's links from a bill it issued to reading, cancelling and
listing the payments of that bill.

Runs are bounded (examples per operation, scenarios and their steps) to add well under a
minute to ``make test``. The per-operation runs draw afresh each time and print the seed of
a failure (``--hypothesis-seed``); the stateful run plays the same scenarios each time, from
the same data, so that what it claims to reach it reaches on every run.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portal.api.validation import MAX_AMOUNT
from portal.billing.models import Bill
from tests import factories
from tests.functional.api.conftest import ANA_NATIONAL_ID, Snapshot, new_bill

EXAMPLES_PER_OPERATION = 25
STATEFUL_SCENARIOS = 40
STEPS_PER_SCENARIO = 8
BOUNDS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
OPERATIONS = {
    "POST /api/v1/bills",
    "GET /api/v1/bills/{public_id}",
    "POST /api/v1/bills/{public_id}/cancel",
    "GET /api/v1/bills/{public_id}/payments",
    "GET /api/v1/me/bills",
    "GET /api/v1/me/payments",
}
#: what only a link from a bill schemathesis issued, or a seeded one, can reach
PER_BILL = {label for label in OPERATIONS if "{public_id}" in label}


def _amounts(body) -> list:
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return []
    return [line.get("amount") for line in lines if isinstance(line, dict)]


def expressible(context, case) -> bool:
    """Keep positive cases to what JSON Schema can promise: it counts 1250.0 as an integer,
    which the API refuses on purpose (a float amount is a client's money bug), and it cannot
    bound the sum of the lines. ``test_api_bills`` checks both refusals. An ``assessment`` is
    for a tax service only, and the key here is the water company's: ``test_assessments``
    covers it with the tax office's."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return True
    if isinstance(case.body, dict) and case.body.get("assessment") is not None:
        return False
    amounts = _amounts(case.body)
    if any(isinstance(amount, float) for amount in amounts):
        return False
    return sum(amount for amount in amounts if isinstance(amount, int)) <= MAX_AMOUNT


@pytest.fixture
def api_schema(wsgi_app, signed_in, testapp, water, tax_office, northwind, dbsession):
    """The served document with the water company's key and Ana's session (she signed in
    through the dev IdP). Path ids are drawn mostly from real bills: two of the water company
    (one with a payment), one of another service (which must stay unknown to the key)."""
    signed_in("citizen-ana")
    ana = factories.user(dbsession, name_id="citizen-ana")
    paid = factories.bill(dbsession, ana, service_code="water")
    factories.payment(dbsession, ana, [paid])
    dbsession.commit()
    organisation_bill = water.post(
        "/api/v1/bills", new_bill(payer={"organisation_number": "NW-100200"}), status=201
    ).json["public_id"]
    others = tax_office.post("/api/v1/bills", new_bill(), status=201).json["public_id"]
    config = schemathesis.Config.from_dict(
        {
            "auth": {
                "openapi": {
                    "serviceKey": {"bearer": water.token},
                    "payerSession": {"api_key": testapp.cookies["portal_session"]},
                }
            },
            # the credentials above are the ones sent; a request without them is tested in
            # test_api_keys and test_api_payer
            "generation": {"with-security-parameters": False},
            "dictionaries": {
                "bills": {"values": [paid.public_id, organisation_bill, others]},
                "people": {"values": [ANA_NATIONAL_ID]},
                "organisations": {"values": ["NW-100200"]},
            },
            "parameters": {
                "path.public_id": {"dictionary": "bills", "probability": 0.7},
                "body.payer.national_id": {"dictionary": "people"},
                "body.payer.organisation_number": {"dictionary": "organisations"},
            },
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app, config=config)
    schema.hook("filter_case")(expressible)
    return schema


def takes_input(operation) -> bool:
    return any(len(group) for group in (operation.path_parameters, operation.query, operation.body))


def explore(operation, mode: GenerationMode, answers: Counter) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, **BOUNDS)
    def run(case):
        response = case.call_and_validate()
        answers[operation.label, response.status_code // 100] += 1

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_answers_as_documented(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {operation.label for operation in operations} >= OPERATIONS
    failures, answers = [], Counter()
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not takes_input(operation):
            continue
        try:
            explore(operation, mode, answers)
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - report them all
            failures.append(f"{operation.label}:\n{error}")
    assert failures == [], "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:
        assert {label for label, kind in answers if kind == 2} >= OPERATIONS
    else:
        # Each invalid request must be refused (schemathesis's negative_data_rejection, run by
        # call_and_validate); a few "negative" cases are valid once serialised (a query
        # parameter named "" with an empty list is not sent at all) and are rightly answered 2xx.
        assert 4 in {kind for _label, kind in answers}


def test_bounds_wrong_types_media_types_and_methods_are_answered_as_documented(api_schema):
    """Schemathesis's coverage phase: each field at and past its bounds, each wrong type, a
    malformed (multipart without a boundary) or unsupported Content-Type, each undocumented
    method (405 with an Allow header). It is built the way schemathesis's own pytest plugin
    builds it; the plugin's lazy loader, which would take a fixture, does not run under
    pytest 9. Its ids and payers are not drawn from the seeded data, so its valid bills name
    unknown payers (422, a rule JSON Schema cannot state): accepting valid data is checked by
    the runs above, not here."""
    failures, scenarios = [], Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()

        def check(case):
            case.call_and_validate(excluded_checks=[positive_data_acceptance])
            scenarios[str(case.meta.phase.data.scenario)] += 1

        config = HypothesisTestConfig(
            project=api_schema.config,
            modes=[HypothesisTestMode.COVERAGE],
            settings=settings(**BOUNDS),
        )
        try:
            create_test(operation=operation, test_func=check, config=config)()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - report them all
            failures.append(f"{operation.label}:\n{error}")
    assert failures == [], "\n\n".join(failures)
    assert {"malformed_content_type", "unspecified_http_method"} <= set(scenarios)


def test_links_lead_from_a_new_bill_to_its_operations(api_schema, engine):
    """Per-bill operations answer 2xx for bills the run issued itself, whose ids only the
    document's links carry from one call to the next."""
    start = Snapshot(engine)
    seeded = {row["public_id"] for row in start.rows[Bill.__table__]}
    linked = set()

    class FromTheSameStart(api_schema.as_state_machine()):
        def after_call(self, response, case):
            public_id = (case.path_parameters or {}).get("public_id")
            if public_id and public_id not in seeded and response.status_code // 100 == 2:
                linked.add(case.operation.label)
            super().after_call(response, case)

        def teardown(self):
            start.restore()
            super().teardown()

    FromTheSameStart.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STEPS_PER_SCENARIO,
            derandomize=True,
            **BOUNDS,
        )
    )
    assert linked == PER_BILL
