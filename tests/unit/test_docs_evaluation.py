"""The Python example in docs/evaluation.md runs, and every command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (example,) = _blocks("python")
    exec(compile(example, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "report.json",
        "report.html",
        "report.md",
    }


def test_documented_options_exist() -> None:
    runner = CliRunner()
    (commands,) = _blocks("bash")
    for line in commands.replace("\\\n", " ").splitlines():
        if not line.startswith("crisis-triage"):
            continue
        words = line.split()
        help_text = runner.invoke(app, [words[1], "--help"]).output
        for option in (w for w in words if w.startswith("-")):
            assert option in help_text, (words[1], option)
