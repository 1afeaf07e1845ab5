"""Test fixtures: a real database built by the migrations, the real app, the real dev IdP.

The database is SQLite by default and PostgreSQL when ``TEST_DATABASE_URL`` names one
(``.ci/run`` does). A test that uses the app (or the engine) commits for real, as in
production, and every table is emptied after it; a test that only uses ``dbsession`` runs
inside one transaction rolled back at its end, which is faster (see :func:`dbsession`).
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

import portal
from alembic import command
from portal.clock import Clock, install_clock
from portal.clock import clock as app_clock
from portal.db import Base
from portal.devidp.idp import DevIdP
from portal.scripts.dev_keys import SIGNING_EXTENSIONS
from portal.selfsigned import ensure_self_signed

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://localhost"
HMAC_KEY = "test-hmac-key"
FERNET_KEY = "dGVzdC1vbmx5LWZlcm5ldC1rZXktMzJieXRlcy0tLS0="


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs the suite in worker processes) each worker has a
    PostgreSQL database of its own, ``<TEST_DATABASE_URL's database>_<worker>``, made empty
    here and dropped when the worker ends; ``TEST_DATABASE_URL`` then names it for the whole
    worker (the tests that make further databases derive their names from it). On SQLite
    each worker's database is already its own (``tmp_path_factory`` is per worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not worker or not url.startswith("postgresql"):
        return
    server = make_url(url)
    name = f"{server.database}_{worker}"
    with _admin_connection(server) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    os.environ["TEST_DATABASE_URL"] = server.set(database=name).render_as_string(
        hide_password=False
    )
    config.stash[_WORKER_DATABASE] = (server, name)


def pytest_unconfigure(config):
    made = config.stash.get(_WORKER_DATABASE, None)
    if made is None:
        return
    server, name = made
    with _admin_connection(server) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_WORKER_DATABASE = pytest.StashKey[tuple]()


@contextmanager
def _admin_connection(server):
    """An autocommit connection to the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            yield connection
    finally:
        admin.dispose()


BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config, items):
    on_postgresql = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
    for item in items:
        if "postgresql" in item.keywords and not on_postgresql:
            item.add_marker(skip)
        # a browser sees pages, whichever database is behind them (.ci/run: once)
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.once)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite'}"
    migrate(url)
    return url


def migrate(url: str) -> None:
    """Build the schema at ``url`` the one way it is ever built: the migrations, to head."""
    engine = create_engine(url)
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(ROOT / "alembic"))
    with engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, "head")
    engine.dispose()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    ensure_self_signed(path / "sp.key", path / "sp.crt", "Portal test SP")
    ensure_self_signed(
        path / "signing.key",
        path / "signing.crt",
        "Portal test receipts",
        extensions=SIGNING_EXTENSIONS,
    )
    return path


@pytest.fixture(scope="session")
def devidp(keys_dir) -> DevIdP:
    """The bundled pysaml2 IdP; it reads the SP's metadata on first use."""
    return DevIdP(keys_dir / "idp", "https://idp.test", str(keys_dir / "sp-metadata.xml"))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The sandbox payment provider over real HTTP; notifications go to a recording receiver
    from which tests hand them to the portal."""
    from tests.sandbox.conftest import FAST_SETTINGS, Receiver, Sandbox

    receiver = Receiver()
    db_path = str(tmp_path_factory.mktemp("sandbox") / "sandbox.db")
    provider = Sandbox({**FAST_SETTINGS, "db_path": db_path}, receiver)
    yield provider
    provider.close()
    receiver.close()


@pytest.fixture(scope="session")
def stripe_standin():
    """The local stand-in for Stripe over real HTTP, the portal's second provider; its webhooks
    go to a recording receiver from which tests hand them to the portal."""
    from tests.sandbox.conftest import Receiver
    from tests.stripe.standin import StripeStandIn

    receiver = Receiver()
    standin = StripeStandIn(webhook_url=receiver.url)
    standin.receiver = receiver
    yield standin
    standin.close()
    receiver.close()


#: the authority's account in the tests' settings (a valid Slovenian IBAN)
TRANSFER_IBAN = "SI56263300012039086"


@pytest.fixture(scope="session")
def app_settings(database_url, keys_dir, devidp, sandbox, stripe_standin) -> dict:
    from tests.sandbox.conftest import API_KEY, MERCHANT_ID, SECRET
    from tests.stripe.standin import SECRET_KEY, WEBHOOK_SECRET

    return {
        "billing.providers": "portal.billing.providers.stripe_checkout.StripeCheckoutProvider",
        "billing.stripe.secret_key": SECRET_KEY,
        "billing.stripe.webhook_secret": WEBHOOK_SECRET,
        "billing.stripe.api_base": stripe_standin.base_url,
        "billing.sandbox.base_url": sandbox.base_url,
        "billing.sandbox.merchant_id": MERCHANT_ID,
        "billing.sandbox.api_key": API_KEY,
        "billing.sandbox.signing_secret": SECRET,
        "billing.notify_base_url": sandbox.receiver.url.removesuffix("/notify"),
        "sqlalchemy.url": database_url,
        "portal.base_url": BASE_URL,
        "receipts.signing_key": str(keys_dir / "signing.key"),
        "receipts.signing_cert": str(keys_dir / "signing.crt"),
        "receipts.authority_name": "City of Example",
        "billing.transfer.iban": TRANSFER_IBAN,
        "billing.transfer.beneficiary": "City of Example",
        "billing.transfer.bic": "BSLJSI2X",
        "billing.bank.import_services": "property-tax",
        "mail.directory": str(keys_dir / "mail"),
        "portal.timezone": "Europe/Ljubljana",
        "portal.secure_cookies": "true",
        "portal.hsts": "true",
        "portal.pii_hmac_key": HMAC_KEY,
        "portal.pii_encryption_key": FERNET_KEY,
        "queue.url": "immediate",
        "saml.sp_cert": str(keys_dir / "sp.crt"),
        "saml.sp_key": str(keys_dir / "sp.key"),
        "saml.idp_metadata": str(devidp.metadata_path),
        "saml.group_roles": "\n".join(
            [
                "clerk:revenue = clerk revenue",
                "clerk:registry = clerk registry",
                "clerk:procurement = clerk procurement",
                "buyer:procurement = buyer procurement",
                "reviewer = reviewer",
                "auditor = auditor",
                "admin = admin",
            ]
        ),
        "saml.min_loa_pay": "http://eidas.europa.eu/LoA/substantial",
        "saml.min_loa_clerk": "http://eidas.europa.eu/LoA/substantial",
        "retry.attempts": "3",
    }


@pytest.fixture(scope="session")
def wsgi_app(app_settings, keys_dir):
    app = portal.main({}, **app_settings)
    from portal.identity.saml import config_metadata

    (keys_dir / "sp-metadata.xml").write_bytes(config_metadata(app.registry["saml"]))
    return app


class MovableClock(Clock):
    """The portal's clock as a test moves it: the real time shifted by an offset, so time
    still passes between requests while a test jumps ahead (``advance``) or to a moment
    (``set``)."""

    def __init__(self, timezone):
        super().__init__(timezone)
        self.offset = dt.timedelta()

    def now(self) -> dt.datetime:
        return super().now() + self.offset

    def advance(self, **delta) -> None:
        self.offset += dt.timedelta(**delta)

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("set the clock to an aware datetime")
        self.offset = when - super().now()


@pytest.fixture
def clock(wsgi_app):
    """A movable clock in the app's registry (its requests and its tasks read it) for this test."""
    before = app_clock(wsgi_app.registry)
    movable = MovableClock(before.timezone)
    install_clock(wsgi_app.registry, movable)
    yield movable
    install_clock(wsgi_app.registry, before)


def stay_active(app, clock: MovableClock, minutes: int, every: int = 20) -> None:
    """Let ``minutes`` pass while the person signed in to ``app`` keeps using the portal (a
    page opened every ``every`` minutes), so their session outlives the idle timeout."""
    for _step in range(minutes // every):
        clock.advance(minutes=every)
        app.get("/account", status=200)
    clock.advance(minutes=minutes % every)


@pytest.fixture(scope="session")
def engine(database_url):
    """A plain engine for arranging and checking data. On SQLite it does not take the write
    lock when it merely reads (the app's engine does, see portal.db), and waits for it."""
    options = {"connect_args": {"timeout": 15}} if database_url.startswith("sqlite") else {}
    engine = create_engine(database_url, **options)
    yield engine
    engine.dispose()


def commits_for_real(request) -> bool:
    """Whether a test shares its data with other connections (an app's, built from
    ``app_settings``, or the engine's), which see only what is committed; every other test
    can be rolled back. Read from the fixtures the test asks for, directly or through others
    (before any is set up)."""
    return {"app_settings", "wsgi_app", "engine"} & set(request.node.fixturenames) != set()


@pytest.fixture(autouse=True)
def _empty_tables(request):
    """Every test that commits starts from empty tables."""
    yield
    if not commits_for_real(request):
        return
    engine = request.getfixturevalue("engine")
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        # DELETE, children first, rather than TRUNCATE: a test leaves a few rows, and on
        # PostgreSQL a TRUNCATE of 59 tables (new files for each) costs 200 ms, the DELETEs 15.
        # The ledger's append-only triggers are for the app, not for emptying the test database.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in tables:
            connection.execute(text(f"DELETE FROM {table}"))
        if connection.dialect.name == "postgresql":
            # ids from 1 again, as a fresh database numbers them
            connection.execute(
                text(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
                )
            )


@pytest.fixture(scope="session")
def rollback_engine(database_url):
    """The engine of the tests that are rolled back. pysqlite's own transaction handling
    would let the first SAVEPOINT begin the transaction and its RELEASE commit it, so on
    SQLite the driver is left alone and the transaction begun explicitly (SQLAlchemy's
    recipe for SAVEPOINTs on pysqlite); foreign keys are on, as in the app."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _driver_leaves_transactions_alone(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            dbapi_connection.execute("PRAGMA busy_timeout=15000")

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:
            connection.exec_driver_sql("BEGIN")

    yield engine
    engine.dispose()


@pytest.fixture
def dbsession(request):
    """A session of the app's own factory (its registry, its listeners) for arranging and
    checking data.

    In a test that commits for real (:func:`commits_for_real`) it is bound to the plain
    engine. In any other test it is joined to an outer transaction rolled back when the test
    ends, its commits only releasing SAVEPOINTs (as warehouse's tests do): cheaper than
    committing and then emptying every table.
    """
    factory = request.getfixturevalue("wsgi_app").registry["dbsession_factory"]
    if commits_for_real(request):
        session = factory(bind=request.getfixturevalue("engine"))
        yield session
        session.rollback()
        session.close()
        return
    with request.getfixturevalue("rollback_engine").connect() as connection:
        outer = connection.begin()
        session = factory(bind=connection, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        outer.rollback()


@pytest.fixture
def testapp(wsgi_app, engine) -> webtest.TestApp:
    return webtest.TestApp(
        wsgi_app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )


@pytest.fixture
def departments(dbsession):
    from portal.identity.models import Department

    made = [
        Department(code="revenue", name="Revenue Office"),
        Department(code="registry", name="Civil Registry and Licensing"),
    ]
    dbsession.add_all(made)
    dbsession.commit()
    return made


def query_of(url: str) -> dict:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def start_login(testapp, next_path="/account", **params):
    """Follow the SP's /saml/login; return the query the browser would take to the IdP."""
    response = testapp.get("/saml/login", params={"next": next_path, **params}, status=303)
    return query_of(response.location)


def sign_in(
    testapp,
    devidp,
    persona="citizen-ana",
    loa="http://eidas.europa.eu/LoA/substantial",
    next_path="/account",
):
    """A whole SP-initiated sign-in through the dev IdP; returns the ACS's answer."""
    query = start_login(testapp, next_path)
    acs_url, saml_response, relay_state = devidp.respond(query, persona, loa)
    return testapp.post(
        urlsplit(acs_url).path, {"SAMLResponse": saml_response, "RelayState": relay_state or ""}
    )


@pytest.fixture
def signed_in(testapp, devidp, departments):
    """A factory: ``signed_in("clerk-clara")`` signs that persona in on ``testapp``."""

    def sign(persona="citizen-ana", **kwargs):
        response = sign_in(testapp, devidp, persona, **kwargs)
        assert response.status_int == 303, response.text
        return testapp

    return sign
