"""``crisis-triage paging ...``: channels managed from the command line, the target read from
standard input and never printed; ``serve --workers N`` shares Prometheus metrics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app

SLACK = "https://hooks.slack.com/services/T000/B000/cli-s3cret"


def test_add_list_test_and_remove_a_channel(fresh_sqlite: str) -> None:
    runner = CliRunner()
    add = ["paging", "add", "--name", "on-call", "--kind", "slack", "--target-stdin"]
    added = runner.invoke(app, [*add, "--topic", "crisis", "--topic", "escalation"], input=SLACK)
    assert added.exit_code == 0, added.output
    assert "hooks.slack.com/…" in added.output and "cli-s3cret" not in added.output
    listed = runner.invoke(app, ["paging", "list"])
    assert listed.output.split("\t") == [
        "1",
        "on-call",
        "slack",
        "hooks.slack.com/…",
        "crisis,escalation\n",
    ]
    assert runner.invoke(app, ["paging", "test", "1"]).output == "queued test page (delivery 1)\n"
    assert runner.invoke(app, ["paging", "remove", "1"]).exit_code == 0
    assert runner.invoke(app, ["paging", "list"]).output == ""
    again = runner.invoke(app, ["paging", "remove", "1"])
    assert again.exit_code == 1 and "does not exist" in again.output


def test_a_bad_target_is_refused_without_echoing_it(fresh_sqlite: str) -> None:
    add = ["paging", "add", "--name", "x", "--kind", "slack", "--topic", "crisis"]
    refused = CliRunner().invoke(app, [*add, "--target-stdin"], input="http://example.org/s3cret")
    assert refused.exit_code == 1
    assert "must use https" in refused.output and "s3cret" not in refused.output


def test_serve_with_several_workers_shares_metrics_in_a_directory(
    fresh_sqlite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_args, **_options: None)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", "8124"])
    assert result.exit_code == 0, result.output
    folder = Path(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"))
    assert folder.is_dir() and f"shared in {folder}" in result.output
    folder.rmdir()
    # A given directory is kept, emptied of the last run's files.
    stale = tmp_path / "counter_1.db"
    stale.write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert CliRunner().invoke(app, ["serve", "--workers", "2"]).exit_code == 0
    assert not stale.exists()
