"""The session-wide log scan finds patient text in what was logged, and only that."""

from __future__ import annotations

import logging
from pathlib import Path

from log_scan import LogCollector, find_leaks
from phi import phi_text, phi_texts, texts_in_source

LEAKED = "Quetzal marker: I swallowed the whole bottle an hour ago"


def _through_a_collector(*records: tuple[str, tuple[object, ...]]) -> LogCollector:
    """Log through a collector on a logger of its own (not the root: the real scan would fail)."""
    collector = LogCollector()
    logger = logging.getLogger("test.log_scan")
    logger.addHandler(collector)
    logger.propagate = False
    try:
        for message, args in records:
            logger.error(message, *args)
    finally:
        logger.removeHandler(collector)
        logger.propagate = True
    return collector


def test_a_leaking_record_is_found(tmp_path: Path) -> None:
    collector = _through_a_collector(("case %d", (3,)), ("scoring failed on %r", (LEAKED,)))
    path = tmp_path / "suite.log"
    collector.write(path)
    leaks = find_leaks(path.read_text(encoding="utf-8").splitlines(), {LEAKED.upper()})
    assert [(leak.line_number, leak.text) for leak in leaks] == [(2, LEAKED.casefold())]


def test_text_in_a_traceback_is_found() -> None:
    collector = LogCollector()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise ValueError(f"cannot score {LEAKED}")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    collector.handle(record)
    assert find_leaks(collector.lines, {LEAKED})


def test_ids_and_lengths_are_not_leaks() -> None:
    collector = _through_a_collector(
        ("message %d scored (%d chars)", (12, len(LEAKED))),
    )
    assert find_leaks(collector.lines, {LEAKED}) == []


def test_the_suite_texts_are_gathered_from_the_test_sources() -> None:
    source = """
POSITIVES = {"SI": ["i keep thinking about suicide"]}
body = message(text="I took an overdose last night")
reply = client.post("/x", json={"note": "called the patient back"})
_send(client, platform, 10, "maybe I should end it now")
short = message(text="overdose")
"""
    assert texts_in_source(source) == {
        "SI",
        "i keep thinking about suicide",
        "I took an overdose last night",
        "called the patient back",
        "maybe I should end it now",
        "overdose",
    }
    texts = phi_texts()
    assert len(texts) >= 25  # the scan has something to look for
    assert "i keep thinking about suicide" in texts  # the synthetic corpus
    assert "Can I move my appointment to Tuesday?" in texts  # the default test message
    assert "overdose" not in texts  # too short to tell from an ordinary word
    assert phi_text("a text built at run time, 42") in phi_texts()
