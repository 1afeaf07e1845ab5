"""Every view declares a permission or is deliberately public, and protected pages are closed
to anonymous visitors."""

import re

import pytest
from pyramid.security import NO_PERMISSION_REQUIRED

from portal.clock import clock as app_clock
from portal.documents.kinds import document_issuer
from portal.security import UNDECLARED

#: routes whose views are meant to be open to anyone
PUBLIC_ROUTES = {
    "home",
    "healthz",
    "readyz",
    "saml_login",
    "saml_acs",
    "saml_sls",
    "saml_metadata",
    "logout",
    "choose_language",
    "__static/",
    "provider_notification",
    "api_openapi",
    "services",
    "service",
    "verify",
    "verify_form",
    "accessibility",
    "privacy",
    "contact",
    "tender_protocol",
    "tender_auction_protocol",
    "tenders",
    "api_ocds_tenders",
    "api_ocds_releases",
    "api_ocds_record",
}

#: routes whose context grants "view" to everyone once the tender is published (and answers
#: 404 before): anonymous visitors read them rather than being sent to sign in
#: (tests/functional/procurement/test_public_*.py)
OPEN_BY_CONTEXT = {
    "tender",
    "tender_document",
    "tender_contract_document",
    "tender_auction",
    "tender_auction_status",
}


def route_views(app):
    """(route name, view permission) for every view bound to a route."""
    introspector = app.registry.introspector
    found = []
    for route in introspector.get_category("routes"):
        name = route["introspectable"]["name"]
        for related in route["related"]:
            if related.category_name != "views":
                continue
            permission = None
            for perm in introspector.related(related):
                if perm.category_name == "permissions":
                    permission = perm["value"]
            found.append((name, permission, related["request_methods"]))
    return found


def test_every_route_has_a_view_with_a_declared_permission(wsgi_app):
    views = route_views(wsgi_app)
    assert views, "no views found: the introspection is broken"
    undeclared = [name for name, permission, _ in views if permission in (None, UNDECLARED)]
    assert undeclared == []


def test_public_views_are_exactly_the_listed_ones(wsgi_app):
    public = {
        name
        for name, permission, _ in route_views(wsgi_app)
        if permission == NO_PERMISSION_REQUIRED
    }
    assert public == PUBLIC_ROUTES


def test_a_view_without_permission_is_refused_to_everyone(wsgi_app):
    """The default permission closes a forgotten view rather than opening it."""
    from pyramid.interfaces import IDefaultPermission

    assert wsgi_app.registry.queryUtility(IDefaultPermission) == UNDECLARED


@pytest.fixture
def sample_values(dbsession, wsgi_app):
    """A real object for each placeholder, so the route's factory finds something to protect."""
    from portal.applications.workflow import start_draft
    from portal.billing.models import (
        ApprovalRequest,
        BankLine,
        BankStatement,
        Refund,
        RefundTransferFile,
    )
    from portal.cases.work import open_case
    from portal.receipts.models import Receipt
    from tests import factories

    payer = factories.user(dbsession)
    payment = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    application = start_draft(
        dbsession,
        factories.service(dbsession, "vehicle-registration"),
        payer,
        {},
        app_clock(wsgi_app.registry).now(),
    )
    receipt = document_issuer(wsgi_app.registry).record(
        dbsession,
        Receipt(
            payment=payment,
            owner=payer,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
        ),
        app_clock(wsgi_app.registry).now(),
    )
    tender = factories.tender(dbsession, now=app_clock(wsgi_app.registry).now())
    endpoint, delivery = factories.webhook_delivery(
        dbsession, factories.service(dbsession, "vehicle-registration")
    )
    case = open_case(
        dbsession,
        "payment_attention",
        subject_type="payment",
        subject_id=payment.public_id,
        title=lambda locale: "Payment",
        department_id=factories.department(dbsession).id,
        person_id=payer.id,
        now=app_clock(wsgi_app.registry).now(),
    )
    clerk = factories.user(dbsession, "clerk-clara")
    approval = ApprovalRequest(
        kind="write_off",
        department=factories.department(dbsession),
        subject=payment.allocations[0].bill.public_id,
        description="Write-off",
        amount_minor=12_50,
        currency="EUR",
        reason="Struck off",
        requested_by_id=clerk.id,
        requested_at=app_clock(wsgi_app.registry).now(),
    )
    dbsession.add(approval)
    statement = BankStatement(
        department_id=factories.department(dbsession).id,
        kind="camt.053",
        statement_id="S-1",
        account_iban="SI56263300012039086",
        imported_at=app_clock(wsgi_app.registry).now(),
        credits=1,
        new_credits=1,
    )
    dbsession.add(statement)
    dbsession.flush()
    line = BankLine(
        content_key="0" * 64,
        statement_id=statement.id,
        department_id=statement.department_id,
        amount_minor=1_00,
        currency="EUR",
        booked_on=app_clock(wsgi_app.registry).now().date(),
        servicer_reference="R",
        end_to_end_id="",
        creditor_reference="",
        remittance="",
        debtor_name="",
        status="unmatched",
    )
    dbsession.add(line)
    by_bank = factories.payment(
        dbsession, payer, [factories.bill(dbsession, payer)], provider="bank"
    )
    refund = Refund(
        payment=by_bank,
        amount_minor=1_00,
        currency="EUR",
        reason="Overpaid",
        status="to_transfer",
        creditor_iban="SI56191000000123438",
    )
    transfer_file = RefundTransferFile(
        message_id="PORTAL-REFUNDS-TEST",
        department_id=statement.department_id,
        created_at=app_clock(wsgi_app.registry).now(),
        created_by_id=clerk.id,
        transfers=1,
        total_minor=1_00,
        currency="EUR",
        xml=b"<Document/>",
        sha256="0" * 64,
    )
    dbsession.add_all([refund, transfer_file])
    dbsession.commit()
    return {
        "refund": refund.public_id,
        "file": transfer_file.public_id,
        "line": line.public_id,
        "approval": approval.public_id,
        "bill": payment.allocations[0].bill.public_id,
        "reference": tender.reference,
        "document": "0" * 32,
        "number": receipt.number,
        "year": str(receipt.fiscal_year),
        "code": "revenue",
        "public_id": payment.public_id,
        "application": application.public_id,
        "service": "vehicle-registration",
        "endpoint": str(endpoint.id),
        "delivery": str(delivery.id),
        "case": case.public_id,
        "attachment": "0" * 32,
        "person": str(payer.id),
        "report": "collections",
        "format": "csv",
        "kind": "people",
        "id": str(payer.id),
    }


def protected_paths(app, sample_values):
    paths = []
    for name, permission, methods in route_views(app):
        if permission == NO_PERMISSION_REQUIRED or name in OPEN_BY_CONTEXT:
            continue
        route = app.routes_mapper.get_route(name)
        path = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: sample_values[m.group(1)], route.pattern)
        paths.append((path, "POST" if methods and "GET" not in methods else "GET"))
    return sorted(set(paths))


def test_anonymous_visitor_is_sent_to_sign_in_from_every_protected_page(
    testapp, wsgi_app, sample_values
):
    """Pages send browsers to sign in; the API answers a 401 problem instead."""
    paths = protected_paths(wsgi_app, sample_values)
    assert paths
    for path, method in paths:
        if path.startswith("/api/"):
            response = testapp.request(path, method=method, status=401)
            assert response.content_type == "application/problem+json", path
        elif method == "GET":
            response = testapp.get(path, status=303)
            assert "/saml/login?next=" in response.location, path
        else:
            testapp.post(path, status=403)


@pytest.mark.parametrize("path", ["/account"])
def test_anonymous_json_client_gets_problem_details(testapp, path):
    response = testapp.get(path, headers={"Accept": "application/json"}, status=401)
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401
