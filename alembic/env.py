"""Alembic environment: the schema is made only by these migrations, from the portal's models.

The database URL comes from the ini file's ``[app:main]`` overlaid with the environment
(``DATABASE_URL``), exactly as the application reads it. Tests pass a ready connection in
``config.attributes["connection"]``.

Migrations run on one connection that is closed afterwards (``NullPool``), so the settings
that size the application's connection pool are left out: ``NullPool`` refuses them.
"""

from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy import engine_from_config, pool

import portal.models  # noqa: F401  (every model registered on the metadata)
from alembic import context
from portal.db import Base
from portal.settings import apply_environment

config = context.config
target_metadata = Base.metadata

#: settings that only a pooling engine accepts (production.ini sizes the web process's pool)
POOL_SIZING = ("pool_size", "max_overflow", "pool_timeout", "pool_use_lifo")


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    if config.config_file_name:
        setup_logging(config.config_file_name)
    settings = apply_environment(dict(get_appsettings(config.config_file_name)))
    for name in POOL_SIZING:
        settings.pop(f"sqlalchemy.{name}", None)
    engine = engine_from_config(settings, "sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)


run_migrations_online()
