"""``make test`` says exactly how to run the browser tests when it has to skip them; ``make serve``
takes PORT= and HOST=."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("pytest_status", [0, 3])
def test_make_test_prints_how_to_run_the_skipped_browser_tests(
    tmp_path: Path, pytest_status: int
) -> None:
    # A stand-in virtualenv whose python "runs the suite" and exits with pytest_status, on a
    # PATH without chromium.
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f"#!/bin/sh\nexit {pytest_status}\n")
    python.chmod(0o755)
    stamp = tmp_path / "venv" / ".installed-stamp"
    stamp.touch()
    os.utime(stamp, (2**31, 2**31))  # newer than pyproject.toml: nothing to install
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("sh", "make"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    result = subprocess.run(
        [str(tools / "make"), "-s", "test", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO_ROOT,
        env={"PATH": str(tools)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == (0 if pytest_status == 0 else 2)  # make's code for a failure
    assert "sudo apt-get install chromium chromium-driver" in result.stdout
    assert f"CRISIS_TRIAGE_REQUIRE_BROWSER=1 {tmp_path}/venv/bin/python -m pytest -m browser" in (
        result.stdout
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ([], "serve"),
        (["PORT=8080"], "serve --port 8080"),
        (["PORT=8080", "HOST=0.0.0.0"], "serve --host 0.0.0.0 --port 8080"),
    ],
)
def test_make_serve_takes_port_and_host(
    tmp_path: Path, variables: list[str], expected: str
) -> None:
    """``make serve PORT=8080 HOST=0.0.0.0`` as the README shows; without them the command's
    own defaults (and CRISIS_TRIAGE_PORT / CRISIS_TRIAGE_HOST) apply."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    said = tmp_path / "args"
    cli = bin_dir / "crisis-triage"
    cli.write_text(f'#!/bin/sh\necho "$*" > {said}\n')
    cli.chmod(0o755)
    stamp = tmp_path / "venv" / ".installed-stamp"
    stamp.touch()
    os.utime(stamp, (2**31, 2**31))  # newer than pyproject.toml: nothing to install
    make = shutil.which("make")
    assert make is not None
    result = subprocess.run(
        [make, "-s", "serve", f"VENV={tmp_path / 'venv'}", *variables],
        cwd=REPO_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert said.read_text().strip() == expected
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make serve PORT=8080 HOST=0.0.0.0" in readme
