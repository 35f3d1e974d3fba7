"""``crisis-triage models``: add and list, promote and roll back with an admin's password (a
specialist is refused), and a clear error when there is nothing to compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_messages import corpus, fast_detector
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import save_model

ADMIN_PASSWORD = "a long enough password"
runner = CliRunner()


@pytest.fixture
def fresh_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    return url


def _model(folder: Path, name: str, seed: int) -> Path:
    texts, labels, types = corpus(seed=seed)
    model = fast_detector().fit(texts, labels, crisis_types=types)
    return save_model(model, folder / f"{name}.skops")


def _invoke(*args: str, password: str | None = None) -> tuple[int, str]:
    env = {"CRISIS_TRIAGE_ADMIN_PASSWORD": password} if password else {}
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_models_add_list_promote_rollback(fresh_sqlite: str, tmp_path: Path) -> None:
    for user, role in (("ada", "admin"), ("sam", "specialist")):
        added = runner.invoke(
            app, ["users", "add", user, "--role", role, "--password-stdin"], input=ADMIN_PASSWORD
        )
        assert added.exit_code == 0, added.output
    first, second = _model(tmp_path, "first", 0), _model(tmp_path, "second", 3)
    ids = []
    for path in (first, second):
        code, out = _invoke("models", "add", str(path))
        assert code == 0, out
        ids.append(out.splitlines()[-1].split()[0])
    code, out = _invoke("models", "list")
    assert code == 0 and ids[0] in out and ids[1] in out and "registered" in out

    code, out = _invoke("models", "promote", ids[0], "--admin", "sam", password=ADMIN_PASSWORD)
    assert code == 2 and "needs an admin" in out, out
    code, out = _invoke("models", "promote", ids[0], "--admin", "ada", password="wrong")
    assert code == 2 and "needs an admin" in out, out
    for model_id in ids:
        code, out = _invoke(
            "models", "promote", model_id, "--admin", "ada", password=ADMIN_PASSWORD
        )
        assert code == 0 and f"{model_id}" in out and "champion" in out, out
    code, out = _invoke("models", "rollback", "--admin", "ada", password=ADMIN_PASSWORD)
    assert code == 0 and ids[0] in out, out
    code, out = _invoke("models", "compare", "-o", str(tmp_path / "cmp"))
    assert code == 2 and "no model is in shadow" in out
