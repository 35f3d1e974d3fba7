"""docs/care.md's session runs as written (bash, curl) against a real service, and does what
the page says: follow-ups scheduled, one overdue with its alert and completed, the plan at
version 2, caring contacts scheduled."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_fakes import FakeScorer
from service_helpers import PASSWORD, Factory, empty_tables, served_in_thread, settings_for

from crisis_triage.service import create_app
from crisis_triage.storage import make_engine, make_session_factory
from crisis_triage.triage import Role

PAGE = Path(__file__).resolve().parents[2] / "docs" / "care.md"


def _session_block() -> str:
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(r"A session, step by step.*?```sh\n(.*?)```", text, re.S)
    assert match, "the page has no session example"
    return match.group(1)


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, str]]:
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        factory = Factory(session)
        factory.user(Role.SPECIALIST, name="alice")
        key = factory.api_key("messages:write")["Authorization"].removeprefix("Bearer ")
    engine.dispose()
    app = create_app(settings_for(sqlite_url), scorer=FakeScorer())
    with served_in_thread(app) as url:
        yield url, key


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_pages_session_runs_as_written(served: tuple[str, str]) -> None:
    api, key = served
    script = _session_block().replace("API=http://127.0.0.1:8000", f"API={api}")
    done = subprocess.run(
        ["/bin/bash", "-e", "-o", "pipefail", "-c", script],
        env={"PATH": "/usr/bin:/bin", "PASSWORD": PASSWORD, "KEY": key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert out.count('"kind":"post_crisis"') == 4 and '"status":"scheduled"' in out
    assert '"kind":"follow_up"' in out and '"status":"done","outcome":"reached"' in out
    assert '"version":2,"versions":[1,2]' in out
    assert '"opted_in":true,"scheduled":15' in out
    assert "safe at home with her sister" not in out  # notes are not listed
