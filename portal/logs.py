"""Logging that ties every line to its request, without personal data.

The request id lives in a context variable set by the request tween
(:func:`portal.web.request_tween_factory`); the formatter writes it into each line.
"""

from __future__ import annotations

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFormatter(logging.Formatter):
    """A formatter whose format may use ``%(request_id)s``."""

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_var.get()
        return super().format(record)
