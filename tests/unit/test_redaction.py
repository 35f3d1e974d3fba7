"""The redacting log filter keeps protected text out of every log record, whatever the handler."""

from __future__ import annotations

import io
import logging

import pytest

from crisis_triage.governance import REDACTED, install_redaction, redact, sensitive

TEXT = "I have been planning to take all my pills tonight. Nobody would notice."


@pytest.fixture
def stream_logger() -> tuple[logging.Logger, io.StringIO]:
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_text_in_messages_arguments_and_exceptions_is_redacted(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger
    with sensitive(TEXT):
        logger.info("scored %s", TEXT)
        logger.warning("first sentence: " + TEXT.split(".")[0])
        try:
            raise ValueError(f"cannot score {TEXT!r}")
        except ValueError:
            logger.exception("scoring failed")
    output = stream.getvalue()
    assert "pills" not in output
    assert "Nobody would notice" not in output
    assert output.count(REDACTED) >= 3
    assert "ValueError" in output  # what failed is still there


def test_outside_the_block_nothing_is_changed(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger
    with sensitive(TEXT):
        pass
    logger.info("plain %s", "words")
    assert stream.getvalue().strip() == "plain words"
    assert redact(TEXT) == TEXT


def test_short_fragments_are_not_redacted_alone() -> None:
    with sensitive("ok. fine. I am safe now, thanks"):
        assert redact("ok") == "ok"
        assert redact("said: I am safe now, thanks") == f"said: {REDACTED}"
