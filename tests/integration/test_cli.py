"""The admin commands against a real database: migrate, add users, create API keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import settings_for
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.service import create_app
from crisis_triage.storage import head_revision


def test_upgrade_then_add_users_and_keys_that_work(fresh_sqlite: str) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {head_revision()}" in upgraded.output
    added = runner.invoke(
        app,
        ["users", "add", "alice", "--role", "supervisor", "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    created = runner.invoke(app, ["apikeys", "create", "--name", "platform"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("ctk_")
    listed = runner.invoke(app, ["apikeys", "list"])
    assert key not in listed.output and "platform" in listed.output
    with TestClient(create_app(settings_for(fresh_sqlite), scorer=None)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.post("/v1/messages", json=message(), headers=headers).status_code == 201
        login = {"username": "alice", "password": "a long enough password"}
        assert client.post("/v1/auth/token", json=login).json()["role"] == "supervisor"


def test_the_password_prompt_asks_twice(fresh_sqlite: str) -> None:
    runner = CliRunner()
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(
        app, ["users", "add", "bob"], input="a long enough password\na long enough password\n"
    )
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "code", "says"),
    [
        (
            ["users", "add", "x", "--role", "boss", "--password-stdin"],
            "pw-long-enough\n",
            2,
            "role",
        ),
        (["users", "add", "x", "--password-stdin"], "short\n", 1, "at least"),
        (["apikeys", "create", "--name", "p", "--scope", "everything"], "", 1, "scope"),
        (["apikeys", "revoke", "99"], "", 1, "does not exist"),
    ],
)
def test_bad_admin_input_is_a_clear_error(
    fresh_sqlite: str, args: list[str], stdin: str, code: int, says: str
) -> None:
    runner = CliRunner()
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_an_embedded_database_is_created_on_first_use(fresh_sqlite: str) -> None:
    result = CliRunner().invoke(app, ["users", "list"])
    assert result.exit_code == 0, result.output


def test_production_refuses_placeholder_secrets(
    fresh_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_ENVIRONMENT", "production")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "CRISIS_TRIAGE_SECRET_KEY" in result.output


def test_serve_with_several_workers_gives_them_time_to_load_before_health_pings(
    fresh_sqlite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    # serve --workers sets this for the worker processes; given here, monkeypatch takes it back
    # (left set, every later test's /metrics would read the workers' files, not its own counts).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append((target, options)))
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", "8123"])
    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    # Each worker builds its own app (and loads its model) from the settings in the environment.
    assert target == "crisis_triage.web:create_app" and options["factory"] is True
    assert options["workers"] == 2
    # uvicorn's default (5 s) killed workers still loading on a busy machine, again and again.
    assert options["timeout_worker_healthcheck"] == 60
