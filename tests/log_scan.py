"""Collect everything the test suite logs, and look in it for patient text.

``LogCollector`` is a handler put on the root logger for the whole session (tests/conftest.py)
with the root level at DEBUG, so every record any code makes is formatted (message, arguments
and traceback) exactly once and kept.  At the end the lines are written to
``test-artifacts/test-suite.log`` and ``find_leaks`` looks in them for every text from
``phi.phi_texts()``; the session fails if one is found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogCollector(logging.Handler):
    """Keeps every formatted record in memory (no flush per record: the suite logs a lot)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a malformed record must not break the test that made it
            self.handleError(record)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Leak:
    text: str
    line_number: int  # 1-based, in the written log
    line: str


def find_leaks(lines: Iterable[str], texts: Iterable[str]) -> list[Leak]:
    """Every (text, line) where a protected text appears, ignoring case."""
    wanted = sorted({text.casefold() for text in texts if text}, key=len, reverse=True)
    leaks = []
    line_number = 0
    for record in lines:
        for line in record.splitlines() or [""]:
            line_number += 1
            folded = line.casefold()
            leaks.extend(Leak(text, line_number, line) for text in wanted if text in folded)
    return leaks


def describe(leaks: list[Leak], log_path: Path, limit: int = 10) -> str:
    shown = [f"  line {leak.line_number}: {leak.text!r}" for leak in leaks[:limit]]
    more = f"\n  ... and {len(leaks) - limit} more" if len(leaks) > limit else ""
    return (
        f"patient text reached the logs {len(leaks)} time(s); see {log_path}:\n"
        + "\n".join(shown)
        + more
    )
