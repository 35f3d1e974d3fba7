"""A first run and user administration: how the first admin is made (serve and the login page
say it), the listening address from the environment, and disabling, re-enabling, changing the
role of and resetting the password of a user from the command line and the admin page."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_helpers import PASSWORD as SAM_PASSWORD
from service_helpers import settings_for
from sqlalchemy import select
from typer.testing import CliRunner

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import db as db
from web_helpers import log_in, make_client, post_form
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.cli import app
from crisis_triage.service import create_app
from crisis_triage.storage import AuditEntry, make_engine, make_session_factory
from crisis_triage.web import create_app as create_web_app

PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"


@pytest.fixture
def fresh_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'first-run.db'}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    return url


def _serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[str, dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _target, **options: calls.append(options))
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 0, result.output
    return result.output, calls[0]


def _cli(*args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _can_log_in(url: str, username: str, password: str) -> bool:
    with TestClient(create_app(settings_for(url), scorer=None)) as client:
        reply = client.post("/v1/auth/token", json={"username": username, "password": password})
        return reply.status_code == 200


def _audit_actions(url: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        found = [(e.action, e.actor_kind, e.details) for e in rows]
    engine.dispose()
    return found


def test_serve_says_how_to_make_the_first_admin_until_there_is_one(
    fresh_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_PORT", "8765")
    monkeypatch.setenv("CRISIS_TRIAGE_HOST", "0.0.0.0")  # noqa: S104 (not bound: uvicorn is faked)
    output, options = _serve(monkeypatch)
    assert "no users yet" in output and "crisis-triage users add NAME --role admin" in output
    assert options["port"] == 8765 and options["host"] == "0.0.0.0"  # noqa: S104
    assert "http://0.0.0.0:8765/queue" in output
    code, said = _cli("users", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert code == 0, said
    output, options = _serve(monkeypatch, "--port", "8100")
    assert "no users yet" not in output
    assert options["port"] == 8100  # the option wins over the environment


def test_the_login_page_says_how_to_make_the_first_admin(sqlite_url: str, db: Any) -> None:
    with TestClient(create_web_app(settings_for(sqlite_url), scorer=None)) as client:
        page = client.get("/login").text
        assert 'id="first-run"' in page and "users add NAME --role admin" in page
        assert "--password-stdin" in page


def test_the_login_page_keeps_quiet_once_there_are_users(web: TestClient) -> None:
    assert 'id="first-run"' not in web.get("/login").text


def test_users_are_disabled_enabled_given_roles_and_new_passwords_from_the_cli(
    fresh_sqlite: str,
) -> None:
    assert _cli("db", "upgrade")[0] == 0
    for name, role in (("root", "admin"), ("alice", "specialist")):
        code, said = _cli("users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD)
        assert code == 0, said
    code, said = _cli("users", "disable", "alice")
    assert code == 0 and "disabled" in said
    assert not _can_log_in(fresh_sqlite, "alice", PASSWORD)
    assert "alice\tspecialist\tinactive" in _cli("users", "list")[1]
    assert _cli("users", "enable", "alice")[0] == 0
    assert _can_log_in(fresh_sqlite, "alice", PASSWORD)
    code, said = _cli("users", "set-role", "alice", "supervisor")
    assert code == 0 and "role supervisor" in said
    code, said = _cli("users", "reset-password", "alice", "--password-stdin", stdin=NEW_PASSWORD)
    assert code == 0, said
    assert NEW_PASSWORD not in said
    assert _can_log_in(fresh_sqlite, "alice", NEW_PASSWORD)
    assert not _can_log_in(fresh_sqlite, "alice", PASSWORD)
    changes = [
        (action, kind, details)
        for action, kind, details in _audit_actions(fresh_sqlite)
        if action in {"user.update", "user.password_reset"}
    ]
    assert [(a, k) for a, k, _ in changes] == [
        ("user.update", "cli"),
        ("user.update", "cli"),
        ("user.update", "cli"),
        ("user.password_reset", "cli"),
    ]
    assert changes[0][2] is not None and changes[0][2]["is_active"] == "true->false"
    assert changes[2][2] is not None and changes[2][2]["role"] == "specialist->supervisor"


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["users", "disable", "nobody"], "", "does not exist"),
        (["users", "disable", "root"], "", "last active admin"),
        (["users", "set-role", "root", "specialist"], "", "last active admin"),
        (["users", "set-role", "root", "boss"], "", "role must be one of"),
        (["users", "reset-password", "root", "--password-stdin"], "short\n", "at least"),
    ],
)
def test_bad_user_changes_are_clear_errors(
    fresh_sqlite: str, args: list[str], stdin: str, says: str
) -> None:
    _cli("db", "upgrade")
    _cli("users", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    code, said = _cli(*args, stdin=stdin)
    assert code != 0 and says in said


def test_an_admin_resets_a_password_on_the_admin_page(
    web: TestClient, users: dict[str, int], sqlite_url: str
) -> None:
    log_in(web, "ada")
    assert 'action="/admin/users/password"' in web.get("/admin").text
    short = post_form(
        web, "/admin", "/admin/users/password", {"user_id": users["sam"], "password": "x"}
    )
    assert short.status_code == 400  # type: ignore[attr-defined]
    done = post_form(
        web, "/admin", "/admin/users/password", {"user_id": users["sam"], "password": NEW_PASSWORD}
    )
    assert done.headers["location"] == "/admin?done=password_reset"  # type: ignore[attr-defined]
    log_in(web, "sam", NEW_PASSWORD)
    resets = [d for a, k, d in _audit_actions(sqlite_url) if a == "user.password_reset"]
    assert resets == [{"user_id": users["sam"]}]


def test_an_admin_disables_re_enables_and_changes_a_role_on_the_admin_page(
    web: TestClient, users: dict[str, int], sqlite_url: str
) -> None:
    sam = users["sam"]
    with make_client(sqlite_url) as sams:
        log_in(sams, "sam")
        assert sams.get("/queue", follow_redirects=False).status_code == 200
        log_in(web, "ada")
        off = post_form(
            web, "/admin", f"/admin/users/{sam}", {"role": "specialist", "active": "no"}
        )
        assert off.headers["location"] == "/admin?done=user_updated"  # type: ignore[attr-defined]
        assert sams.get("/queue", follow_redirects=False).status_code == 303  # session ended
    assert not _can_log_in(sqlite_url, "sam", SAM_PASSWORD)
    assert 'class="inactive"' in web.get("/admin").text
    post_form(web, "/admin", f"/admin/users/{sam}", {"role": "specialist", "active": "yes"})
    assert _can_log_in(sqlite_url, "sam", SAM_PASSWORD)
    post_form(web, "/admin", f"/admin/users/{sam}", {"role": "supervisor", "active": "yes"})
    assert log_in(web, "sam").get("/supervisor").status_code == 200
    updates = [(k, d) for a, k, d in _audit_actions(sqlite_url) if a == "user.update"]
    assert updates == [
        ("user", {"user_id": sam, "is_active": "true->false"}),
        ("user", {"user_id": sam, "is_active": "false->true"}),
        ("user", {"user_id": sam, "role": "specialist->supervisor"}),
    ]


def _readme_user_commands() -> list[tuple[list[str], bool]]:
    """The README dashboard section's ``crisis-triage users`` lines, in order, as (arguments,
    whether the password comes on stdin); the commands its comments name are added."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The dashboard") :]
    block = section[section.index("```sh") : section.index("```\n", section.index("```sh") + 5)]
    found = []
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        piped, _, command = command.rpartition("| ")
        words = shlex.split(command)
        if words[:2] == ["crisis-triage", "users"]:
            found.append((words[1:], bool(piped)))
        if "also: enable, set-role alice supervisor" in comment:
            found += [(["users", "enable", "alice"], False)]
            found += [(["users", "set-role", "alice", "supervisor"], False)]
    return found


def test_the_readmes_user_commands_work_as_written(fresh_sqlite: str) -> None:
    commands = _readme_user_commands()
    piped = [args for args, stdin in commands if stdin]
    assert ["users", "add", "alice", "--role", "specialist", "--password-stdin"] in piped
    assert ["users", "reset-password", "alice", "--password-stdin"] in piped
    for args, stdin in commands:
        # A script pipes the password once; at a terminal the command asks for it twice.
        given = f"{PASSWORD}\n" if stdin else f"{PASSWORD}\n{PASSWORD}\n"
        code, said = _cli(*args, stdin=given)
        assert code == 0, (args, said)
        assert PASSWORD not in said
    listed = _cli("users", "list")[1]
    assert "root\tadmin\tactive" in listed and "alice\tsupervisor\tactive" in listed
