"""Every ``crisis-triage`` command and option shown in docs/paging.md and docs/metrics.md
exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs"
GROUPS = {"paging", "apikeys"}  # commands with subcommands


def _commands(name: str) -> list[list[str]]:
    """The words after ``crisis-triage`` on each command line of the doc's shell blocks."""
    text = (DOCS / name).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0]
            if "crisis-triage " in line:
                found.append(line[line.index("crisis-triage ") :].split()[1:])
    return found


@pytest.mark.parametrize("name", ["paging.md", "metrics.md"])
def test_documented_commands_and_options_exist(name: str) -> None:
    runner = CliRunner()
    commands = _commands(name)
    assert commands
    for words in commands:
        path = words[:2] if words[0] in GROUPS else words[:1]
        shown = runner.invoke(app, [*path, "--help"])
        assert shown.exit_code == 0, (path, shown.output)
        for option in (w for w in words if w.startswith("--")):
            assert option in shown.output, (path, option)
