"""Shared fixtures: paths to the shared data and small helpers; and the session-wide log scan.

Every record any code logs during the run is collected (``log_scan.LogCollector`` on the root
logger at DEBUG), written to ``test-artifacts/test-suite.log``, and searched for the suite's
patient texts (``phi.phi_texts()``); the run fails if one is there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from log_scan import LogCollector, describe, find_leaks
from phi import phi_texts

REPO_ROOT = Path(__file__).resolve().parents[1]
# CRISIS_TRIAGE_SHARED_DATA points a worktree or a clone elsewhere at the shared data.
SHARED_DATA = Path(
    os.environ.get("CRISIS_TRIAGE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data"
)
SUITE_LOG = REPO_ROOT / "test-artifacts" / "test-suite.log"

_collector = LogCollector()
_leak_report: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    from crisis_triage.governance import install_redaction

    install_redaction()  # as the service and the CLI do at start
    root = logging.getLogger()
    root.addHandler(_collector)
    root.setLevel(logging.DEBUG)
    # The browser driver's wire log echoes the pages the test reads and the keys it types:
    # that is the test harness talking to Chromium, not the system under test logging.
    for harness in ("selenium", "urllib3"):
        logging.getLogger(harness).setLevel(logging.WARNING)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_collector)
    _collector.write(SUITE_LOG)
    leaks = find_leaks(_collector.lines, phi_texts())
    if leaks:
        _leak_report.append(describe(leaks, SUITE_LOG))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = len(_collector.lines)
    if _leak_report:
        terminalreporter.section("patient text in logs", sep="!", red=True)
        terminalreporter.write_line(_leak_report[0])
    else:
        terminalreporter.write_line(f"log scan: {lines} log records, no patient text")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it skip with a clear message when absent."""
    if not (SHARED_DATA / "train.csv.gz").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
