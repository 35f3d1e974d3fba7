"""Keep message text out of logs: a redacting filter applied to every log record.

Code that handles message text or notes wraps the work in ``with sensitive(text, ...):``.  While
that block runs (in that thread or task), any log record whose message, arguments or exception
text contains one of those strings, or one of their lines or sentences, has it replaced by
``[redacted]``.  ``install_redaction()`` applies the filter to every record at creation, so it
holds whatever handlers are configured.  It is a backstop: code logs ids, hashes and lengths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REDACTED = "[redacted]"
# Shorter fragments are too likely to be ordinary words to be worth redacting.
MIN_FRAGMENT = 12
_SPLIT = re.compile(r"[\r\n.!?;]+")
_sensitive: ContextVar[tuple[str, ...]] = ContextVar("crisis_triage_sensitive", default=())
# Attributes every record has; anything else came in through ``extra=`` (and a structured
# formatter would print it).
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _fragments(text: str) -> set[str]:
    found = {text.strip()}
    found.update(part.strip() for part in _SPLIT.split(text))
    whole = text.strip()
    return {part for part in found if part and (len(part) >= MIN_FRAGMENT or part == whole)}


@contextmanager
def sensitive(*texts: str | None) -> Iterator[None]:
    """Mark ``texts`` as protected for log records made inside this block."""
    fragments: set[str] = set(_sensitive.get())
    for text in texts:
        if text:
            fragments |= _fragments(text)
    token = _sensitive.set(tuple(sorted(fragments, key=len, reverse=True)))
    try:
        yield
    finally:
        _sensitive.reset(token)


def redact(value: str) -> str:
    """``value`` with every protected fragment of the current context replaced."""
    for fragment in _sensitive.get():
        if fragment in value:
            value = value.replace(fragment, REDACTED)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no protected text survives in its message or exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _sensitive.get():
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in record.__dict__.items():
            if isinstance(value, str) and name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, redact(value))
        return True


_FILTER = RedactingFilter()


def install_redaction() -> None:
    """Apply the redacting filter to every log record made from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_crisis_triage_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._crisis_triage_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
