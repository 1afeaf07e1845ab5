"""Helpers of the audit trail's tests: transactions of the app's own sessions, as requests,
scripts and tasks run them."""

from __future__ import annotations

import contextlib

import pytest
import transaction

from portal.db import get_tm_session


@pytest.fixture
def in_transaction(wsgi_app, engine):
    """``with in_transaction() as dbsession:``: a session of the app's factory in its own
    transaction manager, committed when the block ends (as ``with request.tm:``)."""
    factory = wsgi_app.registry["dbsession_factory"]

    @contextlib.contextmanager
    def run():
        manager = transaction.TransactionManager(explicit=True)
        with manager:
            yield get_tm_session(factory, manager)

    return run


@pytest.fixture
def ini_file(tmp_path, app_settings):
    """An INI file of the test app's settings, for the console scripts."""
    ini = tmp_path / "test.ini"
    ini.write_text(
        "[app:main]\nuse = egg:portal\n"
        + "".join(
            f"{name} = {value}\n".replace("\n", "\n    ", value.count("\n"))
            for name, value in app_settings.items()
        )
    )
    return str(ini)
