"""The server's log configuration: JSON lines, no query strings, redaction kept on."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator

import pytest

from crisis_triage.governance import install_redaction, sensitive
from crisis_triage.service import logging_config

TEXT = "Zebra crossing marker text that must stay out of every log line"


def _handler(config: dict[str, object], name: str, stream: io.StringIO) -> logging.Handler:
    """The handler ``name`` as dictConfig would build it, on ``stream``, without touching the
    process's logging configuration."""
    configurator = logging.config.DictConfigurator(config)
    spec = config["handlers"][name]  # type: ignore[index]
    handler = logging.StreamHandler(stream)
    formatters = config["formatters"]  # type: ignore[index]
    handler.setFormatter(configurator.configure_formatter(dict(formatters[spec["formatter"]])))
    for filter_name in spec["filters"]:
        handler.addFilter(configurator.configure_filter(dict(config["filters"][filter_name])))  # type: ignore[index]
    return handler


@pytest.fixture
def logged() -> Iterator[Callable[[str], list[str]]]:
    install_redaction()
    loggers = [logging.getLogger("test.service.app"), logging.getLogger("test.service.access")]

    def run(log_format: str) -> list[str]:
        config = logging_config(log_format, "info")
        stream = io.StringIO()
        app_log, access_log = loggers
        for logger, name in ((app_log, "default"), (access_log, "access")):
            logger.handlers = [_handler(config, name, stream)]
            logger.propagate = False
            logger.setLevel(logging.INFO)
        with sensitive(TEXT):
            app_log.warning(
                "scoring failed on %s",
                TEXT,
                extra={"case_id": 7, "snippet": TEXT, "color_message": "\x1b[36mcolour\x1b[0m"},
            )
        access_log.info(
            '%s - "%s %s HTTP/%s" %d',
            "10.0.0.1:5",
            "GET",
            "/dashboard?q=Zebra+crossing",
            "1.1",
            200,
        )
        return stream.getvalue().strip().splitlines()

    yield run
    for logger in loggers:
        logger.handlers = []
        logger.propagate = True


def test_json_logs_are_one_object_per_line_without_text_or_query_strings(
    logged: Callable[[str], list[str]],
) -> None:
    app_line, access_line = (json.loads(line) for line in logged("json"))
    assert app_line["level"] == "WARNING" and app_line["logger"] == "test.service.app"
    assert app_line["case_id"] == 7 and app_line["time"]
    assert app_line["message"] == "scoring failed on [redacted]"
    assert app_line["snippet"] == "[redacted]"  # fields given with extra= are redacted too
    assert "color_message" not in app_line  # uvicorn's terminal-coloured copy
    assert access_line["message"] == '10.0.0.1:5 - "GET /dashboard HTTP/1.1" 200'
    assert "Zebra" not in json.dumps([app_line, access_line])


def test_text_logs_drop_query_strings_too(
    logged: Callable[[str], list[str]],
) -> None:
    lines = logged("text")
    assert len(lines) == 2 and "Zebra" not in "\n".join(lines)
    assert lines[1].endswith('"GET /dashboard HTTP/1.1" 200')


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        logging_config("xml")
