"""gunicorn's logger as production serves the portal (production.ini's ``logger_class``)."""

from __future__ import annotations

from gunicorn.glogging import Logger


class GunicornLogger(Logger):
    """gunicorn's logger, writing its access log only when something would receive it.

    Under ``pserve`` gunicorn takes the ini's ``[loggers]`` as its logging configuration, and
    any logging configuration turns its access log on: every request then formatted the
    access-log atoms into a record that no handler took (the ini gives ``gunicorn.access``
    none, and gunicorn stops that logger from propagating). The proxy writes the access log
    (deploy/nginx) and the portal logs each request itself (:mod:`portal.web`), so that was
    about a quarter of gunicorn's own CPU per request, for nothing. An ini that gives
    ``gunicorn.access`` a handler gets its access log as before.
    """

    def access(self, resp, req, environ, request_time):
        if self.access_log.handlers:
            super().access(resp, req, environ, request_time)
