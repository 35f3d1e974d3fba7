"""Log configuration for the server: plain text or one JSON object per line, never message text.

``logging_config(log_format, level)`` is a ``logging.config.dictConfig`` dictionary (uvicorn's
``log_config``).  Whatever the format, the redacting record factory (``install_redaction``)
stays on.  Requests are logged by ``AccessLogMiddleware`` (route templates, no raw paths or
query strings); uvicorn's access log, which prints raw paths with patient ids, is kept quiet.
JSON times are UTC to the millisecond.  Code logs ids, hashes, lengths and codes: never
message text, notes, names or usernames (user ids instead).
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from crisis_triage.governance import RedactingFilter
from crisis_triage.service._access_log import ACCESS_LOGGER, iso_ms

UVICORN_ACCESS_LOGGER = "uvicorn.access"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DropQueryStringFilter(logging.Filter):
    """Removes the query string from uvicorn access-log records (their third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0]
            record.args = (*args[:2], path, *args[3:])
        return True


class MillisecondJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with ISO 8601 UTC times to the millisecond."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return iso_ms(record.created)


def logging_config(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """A dictConfig for the service's loggers, uvicorn's included."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": MillisecondJsonFormatter,
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # uvicorn's copy of the message with terminal colour codes: noise in JSON.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        }
    elif log_format == "text":
        formatter = {"format": TEXT_FORMAT}
    else:
        raise ValueError(f"unknown log format {log_format!r}: use text or json")
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
        # Again at the handler: fields given with ``extra=`` are set after the record factory.
        "filters": ["redact"],
    }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": RedactingFilter},
            "drop_query": {"()": DropQueryStringFilter},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": handler,
            "access": {**handler, "filters": ["redact", "drop_query"]},
        },
        "loggers": {
            "": {"handlers": ["default"], "level": upper},
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            ACCESS_LOGGER: {"handlers": ["access"], "level": upper, "propagate": False},
            # Its lines carry raw paths (patient ids); AccessLogMiddleware logs requests instead.
            UVICORN_ACCESS_LOGGER: {"handlers": ["access"], "level": "WARNING", "propagate": False},
        },
    }
