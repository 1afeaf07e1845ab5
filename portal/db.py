"""The data layer: declarative base, engine and one transaction-bound session per request.

Following the Pyramid cookiecutter: ``request.dbsession`` is joined to the request's
transaction manager (pyramid_tm + zope.sqlalchemy), so views and services only ever
``flush()``; the commit (or abort on error) belongs to the transaction manager.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import cast

import pyramid_retry
import transaction
from pyramid.registry import Registry
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    engine_from_config,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator
from zope.sqlalchemy.datamanager import (
    STATUS_ACTIVE,
    ZopeStatus,
    ZopeTransactionEvents,
    join_transaction,
    mark_changed,
)

from portal.requests import PortalRequest

# Deterministic constraint names keep migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as UTC
    and given their zone back when read. Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """When a row is written: the default of columns that only record it. A time any rule
    reads (an expiry, a settlement, a lifetime) comes from :class:`portal.clock.Clock`."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime}


def get_engine(settings: dict, prefix: str = "sqlalchemy.") -> Engine:
    engine = engine_from_config(settings, prefix)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    event.listen(engine, "handle_error", _retry_after_disconnect)
    return engine


def _retry_after_disconnect(context) -> None:
    """A statement that found its connection gone (PostgreSQL restarted, or something between
    dropped an idle connection) makes the request run again, on a new connection.

    This is what production relies on instead of ``pool_pre_ping``, whose ``SELECT 1`` costs
    a round trip on every request to spare the few that meet a dead connection. SQLAlchemy
    has already discarded the pool's connections from before the failure when this runs. The
    request's transaction cannot have committed (the server rolls back the transaction of a
    connection that ends), so running it again is as safe as pyramid_retry's run after a
    StaleDataError. A COMMIT that lost its connection (no statement) is not run again: it may
    have committed first."""
    if context.is_disconnect and context.statement is not None:
        pyramid_retry.mark_error_retryable(context.sqlalchemy_exception)


def _sqlite_begin_immediate(connection) -> None:
    """SQLite has no row locks, and a transaction that read before another one wrote cannot
    write any more ("database is locked" at once). Taking the write lock when a transaction
    begins makes SQLite's transactions queue one after the other instead (development and
    tests only; PostgreSQL locks rows)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys are off by default in SQLite; a busy timeout lets a transaction wait for
    another one's write lock (the web process, the worker). It is long because a worker holds
    the lock while it renders and signs a receipt, which takes seconds on a slow machine.
    ``secure_delete`` zeroes what is deleted, so freed pages keep no old row (such as an
    emptied draft) for someone reading the file."""
    # pysqlite's own implicit transactions are replaced by the BEGIN above.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class _TransactionEvents(ZopeTransactionEvents):
    """zope.sqlalchemy's listeners, registered once on the session factory rather than on
    each session: registering them per session (``zope.sqlalchemy.register(session)``, the
    cookiecutter's way) costs seven event registrations per request, a tenth of a signed-in
    download's CPU. Each session names its transaction manager in ``info["tm"]``
    (:func:`get_tm_session`); a session without one (a script's, a benchmark's) is left alone.
    """

    def after_begin(self, session, transaction, connection):
        if "tm" in session.info:
            join_transaction(session, STATUS_ACTIVE, session.info["tm"])

    def after_attach(self, session, instance):
        if "tm" in session.info:
            join_transaction(session, STATUS_ACTIVE, session.info["tm"])

    def after_flush(self, session, flush_context):
        if "tm" in session.info:
            mark_changed(session, session.info["tm"])

    def after_bulk_update(self, update_context):
        self.after_flush(update_context.session, None)

    def after_bulk_delete(self, delete_context):
        self.after_flush(delete_context.session, None)

    def before_commit(self, session):
        manager = session.info.get("tm")
        assert (
            manager is None
            or session.in_nested_transaction()
            or manager.get().status == ZopeStatus.COMMITTING
        ), "Transaction must be committed using the transaction manager"

    def do_orm_execute(self, execute_state):
        if execute_state.is_orm_statement and (
            execute_state.is_update or execute_state.is_insert or execute_state.is_delete
        ):
            self.after_flush(execute_state.session, None)


def get_session_factory(engine: Engine, registry: Registry | None = None) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; the app's sessions carry its ``registry``, so code that
    only holds a session (billing announcing an event, a task) reaches the app it runs in.
    Those made by :func:`get_tm_session` join its transaction manager."""
    factory = sessionmaker(bind=engine, expire_on_commit=False, info={"registry": registry})
    events = _TransactionEvents()
    for name in (
        "after_begin",
        "after_attach",
        "after_flush",
        "after_bulk_update",
        "after_bulk_delete",
        "before_commit",
        "do_orm_execute",
    ):
        event.listen(factory, name, getattr(events, name))
    return factory


def insert_unless_present(dbsession_or_dialect: Session | str, entity, *unique: str):
    """``INSERT ... ON CONFLICT (unique) DO NOTHING`` in the dialect ``dbsession`` speaks
    (or the dialect named; PostgreSQL and SQLite both have it): a row that another
    transaction inserted first, committed or still running, is left alone without an error
    (PostgreSQL waits for that transaction to end), so no SAVEPOINT is needed to survive the
    conflict. With ``RETURNING``, no row comes back when nothing was inserted."""
    name = (
        dbsession_or_dialect
        if isinstance(dbsession_or_dialect, str)
        else dbsession_or_dialect.get_bind().dialect.name
    )
    dialect = postgresql if name == "postgresql" else sqlite
    return dialect.insert(entity).on_conflict_do_nothing(index_elements=list(unique))


def table_of(model) -> Table:
    """A mapped class's table, typed as the table it is (SQLAlchemy types ``__table__`` as
    any FROM clause), for the Core statements written against it."""
    return cast(Table, model.__table__)


class Prebuilt:
    """A statement built once per SQL dialect, its values left as named bind parameters.

    Building a statement (and the cache key SQLAlchemy computes for each new statement
    object) costs about as much CPU as running it; the few statements every payment runs are
    therefore built once and reused. ``build(dialect_name)`` returns the statement.
    """

    def __init__(self, build: Callable[[str], Executable]):
        self._build = build
        self._built: dict[str, Executable] = {}

    def __call__(self, dbsession: Session) -> Executable:
        name = dbsession.get_bind().dialect.name
        statement = self._built.get(name)
        if statement is None:
            statement = self._built[name] = self._build(name)
        return statement


def one_of(column, name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list given as the parameter ``name`` when the statement runs.

    On PostgreSQL ``column = ANY(:name)``, one array parameter: the statement's text is the
    same whatever the list. SQLAlchemy renders an expanding ``IN``'s text afresh on every
    execution (a placeholder per item), and each length of list is another statement for
    psycopg to prepare. SQLite has no arrays: there it is the expanding ``IN``. For a
    :class:`Prebuilt` statement, which knows its ``dialect``.
    """
    if dialect == "postgresql":
        # items cast without the column's length: a cast to varchar(n) would cut a longer
        # value short, which would then match the row whose value is its first n characters
        item = String() if isinstance(column.type, String) else column.type
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item)))
    return column.in_(bindparam(name, expanding=True))


def run_write(dbsession: Session, statement: Executable, params=None):
    """Run a Core ``INSERT``/``UPDATE`` in ``dbsession``'s transaction (after flushing the
    session, as any statement it runs), and tell the transaction manager it wrote
    (zope.sqlalchemy only commits a session it knows changed; ORM statements tell it
    themselves, see :meth:`_TransactionEvents.do_orm_execute`)."""
    result = dbsession.execute(statement, params)
    if "tm" in dbsession.info:
        mark_changed(dbsession, dbsession.info["tm"])
    return result


def write_versioned(
    dbsession: Session, instance, values: dict, *, with_row: tuple[Table, dict] | None = None
) -> None:
    """Set ``values`` (attribute: value) on ``instance``, a loaded object with a version
    column, with one plain ``UPDATE ... WHERE id = :id AND version = :version`` sent now, and
    record them as the row's: what the flush would send, without the unit of work (about a
    tenth of a checkout's or a notification's CPU), and the object stays clean, so the flush
    has nothing to do for it. Like the flush, it raises StaleDataError when another
    transaction changed the row since it was read (pyramid_retry then runs the request
    again). Other attributes changed on ``instance`` are left to the flush, which checks the
    version this writes.

    ``with_row`` (table, row): a row inserted with it (a history row), in the same statement
    on PostgreSQL (``WITH written AS (UPDATE ...) INSERT ... SELECT ... FROM written``: one
    round trip, and nothing inserted if the UPDATE lost the race); just before it on SQLite,
    which has no such statement.
    """
    mapper = inspect(instance).mapper
    version = mapper.version_id_col
    (key,) = mapper.primary_key
    version_attribute = mapper.get_property_by_column(version).key
    read = getattr(instance, version_attribute)
    columns = {mapper.attrs[name].columns[0].key: value for name, value in values.items()}
    params = {f"set_{column}": value for column, value in columns.items()}
    params.update(_id=getattr(instance, mapper.get_property_by_column(key).key), _read=read)
    together = with_row is not None and dbsession.get_bind().dialect.name == "postgresql"
    row_table = None if with_row is None else with_row[0]
    row_columns = frozenset(with_row[1]) if with_row is not None and together else frozenset()
    statement = _versioned_update(key, version, frozenset(columns), row_table, row_columns)
    with dbsession.no_autoflush:  # the flush would first write changes it is not given
        if with_row is not None and not together:
            run_write(dbsession, _plain_insert(with_row[0])(dbsession), with_row[1])
        if together:
            assert with_row is not None
            written = len(
                run_write(dbsession, statement(dbsession), {**params, **with_row[1]}).all()
            )
        else:
            written = run_write(dbsession, statement(dbsession), params).rowcount
    if written != 1:
        raise StaleDataError(f"{mapper.class_.__name__} {params['_id']} changed meanwhile")
    for name, value in values.items():
        set_committed_value(instance, name, value)
    set_committed_value(instance, version_attribute, read + 1)


@functools.cache
def _plain_insert(table: Table) -> Prebuilt:
    return Prebuilt(lambda dialect: insert(table))


@functools.cache
def _versioned_update(
    key: Column,
    version: Column,
    columns: frozenset[str],
    row_table: Table | None,
    row_columns: frozenset[str],
) -> Prebuilt:
    """The statement :func:`write_versioned` sends for ``columns`` of a table (with a row of
    ``row_columns`` inserted into ``row_table`` in it, if any), built once."""

    def build(dialect: str):
        update = (
            cast(Table, key.table)
            .update()
            .where(key == bindparam("_id"), version == bindparam("_read"))
            .values(
                {
                    **{name: bindparam(f"set_{name}") for name in sorted(columns)},
                    version.key: version + 1,
                }
            )
        )
        if not row_columns:
            return update
        assert row_table is not None
        written = update.returning(key).cte("written")
        names = sorted(row_columns)
        given = select(*(bindparam(name, type_=row_table.c[name].type) for name in names))
        return (
            insert(row_table)
            .from_select(names, given.select_from(written))
            .returning(*row_table.primary_key.columns)
        )

    return Prebuilt(build)


def registry_of(dbsession: Session) -> Registry:
    """The registry of the application whose session factory made ``dbsession``."""
    registry = dbsession.info.get("registry")
    if registry is None:
        raise LookupError("this session was not made by the application's session factory")
    return registry


def get_tm_session(
    session_factory: sessionmaker[Session],
    transaction_manager: transaction.TransactionManager,
    request: PortalRequest | None = None,
) -> Session:
    """A session joined to ``transaction_manager``: committed or aborted with it (the
    factory's listeners, see :class:`_TransactionEvents`, read it from ``info``)."""
    return session_factory(info={"request": request, "tm": transaction_manager})


def includeme(config) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    # Abort on any 4xx/5xx answer, so a refused request changes nothing.
    settings.setdefault("tm.commit_veto", "pyramid_tm.default_commit_veto")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    # A transaction that lost a race on an optimistically locked row (see Payment.version) is
    # run again from the start, and then sees what the winner committed.
    pyramid_retry.mark_error_retryable(StaleDataError)

    engine = get_engine(settings)
    session_factory = get_session_factory(engine, config.registry)
    config.registry["dbsession_factory"] = session_factory
    config.registry["db_engine"] = engine

    def dbsession(request: PortalRequest) -> Session:
        return get_tm_session(session_factory, request.tm, request=request)

    config.add_request_method(dbsession, reify=True)
