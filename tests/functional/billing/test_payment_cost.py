"""What one whole payment costs the database: paying (POST /bills/pay), starting it at the
provider (POST /payments/{id}/checkout) and the provider's signed notification that it
succeeded, counted statement by statement on the app's engine.

The receipt's rendering is a job queued after commit (a worker's work in production), so the
jobs those requests queue are recorded here rather than run inside them.
"""

import contextlib
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import webtest
from sqlalchemy import event, func, select
from sqlalchemy.orm import load_only

from portal.billing import state, with_status
from portal.billing.models import JournalTransaction, Payment
from portal.documents.tasks import render_document_task
from portal.receipts.models import Receipt
from portal.tasks import task_queue
from tests import factories
from tests.functional.billing.conftest import deliver, notifications_for
from tests.sandbox.conftest import SUCCESS

#: the most statements one whole payment may cost (issue #13)
STATEMENTS_PER_PAYMENT = 20
SAVEPOINT = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK TO)\b", re.IGNORECASE)


class Meter:
    """Records the statements the app's engine runs, per request, and every lazy load
    (a relationship, or a column the query left out, loaded on attribute access rather than
    by the query that needed it)."""

    def __init__(self, wsgi_app):
        self.engine = wsgi_app.registry["db_engine"]
        self.factory = wsgi_app.registry["dbsession_factory"]
        self.requests: dict[str, list[str]] = {}
        self.lazy_loads: list[str] = []
        #: statements whose text SQLAlchemy rendered afresh for this execution (an expanding
        #: or literal-execute parameter: a list given to ``in_()``, say)
        self.rendered_per_execution: list[str] = []
        self._current: list[str] | None = None

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        # SQLite's BEGIN IMMEDIATE stands for what PostgreSQL's driver begins on its own
        if self._current is not None and not statement.startswith("BEGIN"):
            self._current.append(statement)
            compiled = getattr(context, "compiled", None)
            if compiled is not None and (
                compiled.post_compile_params or compiled.literal_execute_params
            ):
                self.rendered_per_execution.append(statement)

    def _orm_execute(self, orm_execute_state):
        if self._current is None or not orm_execute_state.is_select:
            return
        if orm_execute_state.lazy_loaded_from is not None:
            loaded = orm_execute_state.lazy_loaded_from
            self.lazy_loads.append(f"{loaded.class_.__name__}: {orm_execute_state.statement}")
        elif orm_execute_state.is_column_load:
            self.lazy_loads.append(f"columns: {orm_execute_state.statement}")

    @contextlib.contextmanager
    def request(self, name: str):
        self._current = self.requests.setdefault(name, [])
        try:
            yield
        finally:
            self._current = None

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.factory, "do_orm_execute", self._orm_execute)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.factory, "do_orm_execute", self._orm_execute)

    def total(self) -> int:
        return sum(len(seen) for seen in self.requests.values())

    def report(self) -> str:
        lines = [f"{self.total()} statements for one payment"]
        for name, seen in self.requests.items():
            lines.append(f"  {name}: {len(seen)}")
            lines.extend(f"    {' '.join(statement.split())[:150]}" for statement in seen)
        return "\n".join(lines)


@pytest.fixture
def queued(wsgi_app, monkeypatch):
    """The jobs queued after commit, recorded instead of run (a worker runs them)."""
    jobs: list[tuple] = []
    queue = task_queue(wsgi_app.registry)
    monkeypatch.setattr(queue, "enqueue", lambda job, *args, **kwargs: jobs.append((job, args)))
    return jobs


def pay_through(payer, sandbox, bills, measure=None) -> str:
    """One whole payment of ``bills``, each of its three requests inside ``measure(name)`` if
    given; returns the payment's public id. The pages around them (bills, review) and the
    card entered at the provider are not measured."""
    measure = measure or (lambda name: contextlib.nullcontext())
    form = payer.bills_form()
    for checkbox in form.fields.get("bill", []):
        checkbox.checked = checkbox._value in {bill.public_id for bill in bills}
    with measure("POST /bills/pay"):
        paid = form.submit(status=303)
    review = payer.review(paid)
    public_id = urlsplit(paid.location).path.split("/")[2]
    checkout = review.forms["checkout-form"]  # parsing the page is WebTest's work, not measured
    with measure("POST /payments/{id}/checkout"):
        hosted = checkout.submit(status=303).location
    assert payer.enter_card(hosted, SUCCESS).status_code == 303
    (notification,) = notifications_for(sandbox, public_id)
    provider = webtest.TestApp(payer.app.app, extra_environ=payer.app.extra_environ)
    with measure("POST /billing/notifications/sandbox"):  # no cookie: the provider's server
        assert deliver(provider, notification).json == {"status": "processed"}
    return public_id


def test_one_whole_payment_costs_at_most_20_statements_and_no_lazy_load(
    payer, ana_bills, dbsession, sandbox, wsgi_app, queued
):
    # a first payment opens this year's receipt series and the provider's clearing account
    first = factories.bill(dbsession, payer_of(dbsession), amount=5_00)
    dbsession.commit()
    pay_through(payer, sandbox, [first])
    queued.clear()

    with Meter(wsgi_app) as meter:
        public_id = pay_through(payer, sandbox, ana_bills, meter.request)
    print("\n" + meter.report())

    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment).where(Payment.public_id == public_id)).one()
    assert payment.status == state.SUCCEEDED
    assert [view.status for view in with_status(dbsession, ana_bills)] == ["paid", "paid"]
    assert (
        dbsession.scalar(
            select(func.count())
            .select_from(JournalTransaction)
            .where(JournalTransaction.idempotency == f"payment:{payment.id}:settled")
        )
        == 1
    )
    receipt = dbsession.scalars(select(Receipt).where(Receipt.payment_id == payment.id)).one()
    assert receipt.sequence == 2
    assert [job for job, args in queued] == [render_document_task]

    assert meter.lazy_loads == [], "\n".join(meter.lazy_loads)
    every = [s for seen in meter.requests.values() for s in seen]
    assert [s for s in every if SAVEPOINT.match(s)] == []
    assert meter.total() <= STATEMENTS_PER_PAYMENT, meter.report()
    # each statement's text is built once (SQLite has no arrays: a list of bills is an
    # expanding IN there, see portal.db.one_of)
    if engine_name(wsgi_app) == "postgresql":
        assert meter.rendered_per_execution == [], meter.rendered_per_execution
    else:
        assert all(" IN (" in s for s in meter.rendered_per_execution)


def engine_name(wsgi_app) -> str:
    return wsgi_app.registry["db_engine"].dialect.name


def test_a_lazy_load_is_caught(ana_bills, wsgi_app):
    """The guard above sees a relationship loaded on access (it would pass vacuously if not)."""
    with Meter(wsgi_app) as meter, meter.request("lazy"):
        session = wsgi_app.registry["dbsession_factory"]()
        try:
            assert session.get(type(ana_bills[0]), ana_bills[0].id).service.code
        finally:
            session.close()
    assert len(meter.lazy_loads) == 1 and meter.lazy_loads[0].startswith("Bill:")


def test_a_column_left_out_and_read_is_caught(ana_bills, wsgi_app):
    """So is a column a query left out (``load_only``), read on access."""
    bill = type(ana_bills[0])
    with Meter(wsgi_app) as meter, meter.request("deferred"):
        session = wsgi_app.registry["dbsession_factory"]()
        try:
            query = select(bill).where(bill.id == ana_bills[0].id).options(load_only(bill.id))
            assert session.scalars(query).one().number == ana_bills[0].number
        finally:
            session.close()
    assert len(meter.lazy_loads) == 1 and meter.lazy_loads[0].startswith("columns:")


def payer_of(dbsession):
    from portal.identity.models import User

    return dbsession.scalars(select(User).where(User.name_id == "citizen-ana")).one()


PAYMENTS_TIMED = int(os.environ.get("PERF_PAYMENTS", "10"))


def test_cpu_per_payment(payer, dbsession, sandbox, wsgi_app, queued):
    """In-process CPU of the portal's thread for the three requests of a payment (printed;
    the sandbox serves from other threads and the queued jobs are not run, so neither is
    counted; WebTest's own work on each request is). PERF_PAYMENTS payments are timed (10)."""
    ana = payer_of(dbsession)
    bills = [factories.bill(dbsession, ana, amount=10_00 + i) for i in range(PAYMENTS_TIMED + 1)]
    dbsession.commit()
    pay_through(payer, sandbox, bills[:1])  # warm up: caches, the first of the series
    spent: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(name):
        started = time.thread_time()
        yield
        spent[name] = spent.get(name, 0.0) + time.thread_time() - started

    for bill in bills[1:]:
        pay_through(payer, sandbox, [bill], timed)
    each = {name: seconds / PAYMENTS_TIMED * 1000 for name, seconds in spent.items()}
    print(f"\n{sum(each.values()):.1f} ms CPU per payment (portal thread)")
    for name, ms in each.items():
        print(f"  {name}: {ms:.1f} ms")
    assert dbsession.scalar(select(func.count()).select_from(Receipt)) == PAYMENTS_TIMED + 1


def test_a_notification_that_loses_a_race_is_run_again(
    payer, ana_bills, dbsession, sandbox, queued, monkeypatch
):
    """No savepoint guards the settlement: a transaction that loses a race on the payment's
    version (StaleDataError) is rolled back whole, its event record with it, and
    pyramid_retry runs the notification again, which then settles the payment once."""
    from sqlalchemy.orm.exc import StaleDataError

    from portal.billing import payments
    from portal.billing.models import ProviderEventRecord

    settle = payments._post_settlement
    attempts = []

    def losing_once(session, payment):
        attempts.append(payment.id)
        if len(attempts) == 1:
            settle(session, payment)  # posted, then lost: all of it must roll back
            raise StaleDataError("payment changed by another transaction")
        return settle(session, payment)

    monkeypatch.setattr(payments, "_post_settlement", losing_once)
    public_id = pay_through(payer, sandbox, ana_bills)
    assert len(attempts) == 2

    dbsession.expire_all()
    payment = dbsession.scalars(select(Payment).where(Payment.public_id == public_id)).one()
    assert payment.status == state.SUCCEEDED
    assert [view.status for view in with_status(dbsession, ana_bills)] == ["paid", "paid"]
    assert dbsession.scalar(select(func.count()).select_from(ProviderEventRecord)) == 1
    assert dbsession.scalar(select(func.count()).select_from(JournalTransaction)) == 3
    (receipt,) = dbsession.scalars(select(Receipt)).all()
    assert receipt.sequence == 1
