"""Calling the API as an integration does: a service's bearer key, JSON in and out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import webtest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select, text

from portal.api import openapi_document
from portal.api.auth import create_api_key
from portal.billing.models import Bill
from portal.db import Base
from portal.identity.models import Organisation
from tests import factories

ANA_NATIONAL_ID = "19800101-1234"


@dataclass
class ServiceClient:
    """A service's integration: its key, and the requests it sends with it."""

    app: object
    service: object
    api_key: object
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path, status=200, **kwargs):
        return self.app.get(path, headers=self.headers, status=status, **kwargs)

    def post(self, path, body, status=200):
        return self.app.post_json(path, body, headers=self.headers, status=status)


def make_client(wsgi_app, dbsession, service_code):
    """A key for the service and a client of its own: no browser cookies, only the key."""
    service = factories.service(dbsession, service_code)
    api_key, token = create_api_key(dbsession, service, f"{service_code} integration")
    dbsession.commit()
    app = webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )
    return ServiceClient(app, service, api_key, token)


@pytest.fixture
def water(wsgi_app, engine, dbsession):
    return make_client(wsgi_app, dbsession, "water")


@pytest.fixture
def tax_office(wsgi_app, engine, dbsession):
    return make_client(wsgi_app, dbsession, "property-tax")


@pytest.fixture
def ana(dbsession, wsgi_app):
    """Ana as the portal knows her after a sign-in: by a keyed hash of her national id."""
    user = factories.user(dbsession, name_id="citizen-ana")
    user.national_id_hash = wsgi_app.registry["pii_vault"].lookup_hash(ANA_NATIONAL_ID)
    dbsession.commit()
    return user


@pytest.fixture
def northwind(dbsession):
    organisation = Organisation(registration_number="NW-100200", name="Northwind Supplies Ltd")
    dbsession.add(organisation)
    dbsession.commit()
    return organisation


def new_bill(**changes) -> dict:
    body = {
        "payer": {"national_id": ANA_NATIONAL_ID},
        "number": "W-2026-0001",
        "description": "Water supply, October 2026",
        "due_date": "2026-12-15",
        "currency": "EUR",
        "lines": [
            {"description": "Water, 12 m3", "amount": 1250},
            {"description": "Network fee", "amount": 300},
        ],
    }
    body.update(changes)
    return body


def bill_count(dbsession) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(Bill))


OPENAPI = openapi_document()
_SPEC_URI = "urn:portal:openapi"
_REGISTRY = Registry().with_resource(
    _SPEC_URI, Resource.from_contents(OPENAPI, default_specification=DRAFT202012)
)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def conforms(response, path: str, method: str = "get"):
    """Fail unless ``response`` is what the OpenAPI document promises for ``method path``
    and the response's status: a documented status, media type and a body its schema accepts."""
    operation = OPENAPI["paths"][path][method]
    status = str(response.status_int)
    declared = operation["responses"].get(status)
    assert declared is not None, f"{method.upper()} {path} does not document {status}"
    where = f"/paths/{_escape(path)}/{method}/responses/{status}"
    if "$ref" in declared:
        where = declared["$ref"].removeprefix("#")
        declared = OPENAPI["components"]["responses"][where.rsplit("/", 1)[1]]
    assert response.content_type in declared["content"], response.content_type
    where += f"/content/{_escape(response.content_type)}/schema"
    validator = Draft202012Validator(
        {"$ref": f"{_SPEC_URI}#{where}"},
        registry=_REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [error.message for error in validator.iter_errors(response.json)]
    assert errors == [], errors
    return response.json


class Snapshot:
    """Every row of every table (but ``skip``), to tell that a request changed nothing, or to
    put the database back as it was."""

    def __init__(self, engine, skip: tuple[str, ...] = ()):
        self.engine = engine
        self.tables = [table for table in Base.metadata.sorted_tables if table.name not in skip]
        with engine.connect() as connection:
            self.rows = {
                table: [
                    row._asdict()
                    for row in connection.execute(
                        table.select().order_by(*table.primary_key.columns)
                    )
                ]
                for table in self.tables
            }

    def __eq__(self, other) -> bool:
        return isinstance(other, Snapshot) and self.rows == other.rows

    def changed_tables(self, other: Snapshot) -> list[str]:
        return [table.name for table in self.tables if self.rows[table] != other.rows.get(table)]

    def restore(self) -> None:
        """Empty the tables and put the rows back, by TRUNCATE on PostgreSQL (keeps the
        sequences where they are). The append-only triggers (ledger, audit log, which refuses
        a TRUNCATE too) guard the app, not the emptying of a test database."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                quote = connection.dialect.identifier_preparer.quote
                connection.execute(
                    text(f"TRUNCATE {', '.join(quote(table.name) for table in self.tables)}")
                )
            else:
                for table in reversed(self.tables):
                    connection.execute(table.delete())
            for table in self.tables:
                if self.rows[table]:
                    connection.execute(table.insert(), self.rows[table])
