"""production.ini's gunicorn logger: no access-log work for a log nobody receives, the same
access log as gunicorn's own once the logging configuration gives it a handler."""

import datetime
import logging
from configparser import RawConfigParser
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from portal.gunicorn_logger import GunicornLogger
from tests.conftest import ROOT


def served_by_pserve(logger_class):
    """The logger as ``pserve production.ini`` sets gunicorn up: the ini is its logging
    configuration (gunicorn.app.pasterapp sets ``logconfig`` to it)."""
    config = Config()
    config.set("logconfig", str(ROOT / "production.ini"))
    return logger_class(config)


def access(logger):
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/healthz",
        "PATH_INFO": "/healthz",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="200 OK", sent=2, headers=[], response_length=2)
    request = SimpleNamespace(headers=[])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=1))


@pytest.fixture
def access_logger():
    """gunicorn.access; every logger's level, handlers and state put back afterwards (the
    ini's logging configuration replaces the root logger's, which the rest of the suite
    relies on)."""
    loggers = [logging.root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    kept = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    yield logging.getLogger("gunicorn.access")
    for logger, level, handlers, propagate, disabled in kept:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate, logger.disabled = propagate, disabled


def test_no_access_log_work_without_a_handler(access_logger, monkeypatch):
    formatted = []
    monkeypatch.setattr(Logger, "atoms", lambda self, *args: formatted.append(args) or {})

    access(served_by_pserve(Logger))  # gunicorn's own formats it for nobody
    assert len(formatted) == 1 and not access_logger.handlers

    access(served_by_pserve(GunicornLogger))
    assert len(formatted) == 1


def test_the_access_log_is_written_once_it_has_a_handler(access_logger):
    logger = served_by_pserve(GunicornLogger)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    access_logger.addHandler(handler)
    access(logger)
    assert [record.getMessage().split('"')[1] for record in records] == ["GET /healthz HTTP/1.1"]


def test_production_serves_with_it():
    ini = RawConfigParser()
    ini.read(ROOT / "production.ini")
    assert ini.get("server:main", "logger_class") == "portal.gunicorn_logger.GunicornLogger"
