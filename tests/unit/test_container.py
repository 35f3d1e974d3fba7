"""The container's invariants, read from the Dockerfile and compose.yaml (no Docker daemon needed):
pinned bases, several stages, a non-root user, a health check on /readyz, no secret baked in."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|ENCRYPTION_KEYS|API_KEY|PRIVATE", re.I)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return _instructions((REPO / "Dockerfile").read_text(encoding="utf-8"))


def _args(dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    values = {}
    for word, rest in dockerfile:
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            values[name] = value
    return values


def _final_stage(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (word, _) in enumerate(dockerfile) if word == "FROM")
    return dockerfile[last_from:]


def _pinned(image: str) -> bool:
    """An exact release (x.y.z in the tag) or a digest; never latest or a moving x.y tag."""
    if "@sha256:" in image:
        return True
    _name, _, tag = image.rpartition(":")
    return bool(re.match(r"\d+\.\d+(\.\d+)?-", tag) or re.fullmatch(r"\d+\.\d+\.\d+", tag))


def test_it_builds_in_stages_from_a_pinned_base(dockerfile: list[tuple[str, str]]) -> None:
    args = _args(dockerfile)
    stages = [rest for word, rest in dockerfile if word == "FROM"]
    assert len(stages) >= 2, "build and runtime stages"
    for stage in stages:
        image = shlex.split(stage)[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert _pinned(image) and re.search(r"\d+\.\d+\.\d+", image), image
    assert any(word == "COPY" and "--from=build" in rest for word, rest in _final_stage(dockerfile))


def test_it_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    final = _final_stage(dockerfile)
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    position = {word: i for i, (word, _) in enumerate(final)}
    assert max(i for i, (w, _) in enumerate(final) if w == "USER") < position["CMD"]


def test_the_health_check_asks_readyz(dockerfile: list[tuple[str, str]]) -> None:
    checks = [rest for word, rest in _final_stage(dockerfile) if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/readyz" in checks[0] and "CMD" in checks[0]
    assert "CRISIS_TRIAGE_PORT" in checks[0]  # follows the port the service listens on


def test_the_image_bundles_the_model_and_starts_in_production_mode(
    dockerfile: list[tuple[str, str]],
) -> None:
    runs = " ".join(rest for word, rest in dockerfile if word == "RUN")
    assert (
        'pip install ".[service]"' in runs and "load_model()" in runs
    )  # fails the build if absent
    assert "-e " not in runs  # a real install: the model file is package data in the venv
    env = " ".join(rest for word, rest in _final_stage(dockerfile) if word == "ENV")
    # Production refuses placeholder secrets and a generated development key.
    assert "CRISIS_TRIAGE_ENVIRONMENT=production" in env


def test_no_secret_is_baked_in(dockerfile: list[tuple[str, str]]) -> None:
    for word, rest in dockerfile:
        if word in {"ENV", "ARG", "LABEL"}:
            for name, value in re.findall(r"([A-Za-z_][\w.]*)=(\S*)", rest):
                assert not (SECRET_NAMES.search(name) and value), f"{word} {name} has a value"
        if word in {"COPY", "ADD"}:
            assert not re.search(r"\.env|secret|keys|\.db\b", rest, re.I), rest
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "ctk_" not in text  # no API key
    assert not re.search(r"[A-Za-z0-9+/]{43}=", text), "a base64 AES key"
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = [line for line in lines if line and not line.startswith("#")]
    assert ignored[0] == "*"  # the build context leaves everything out unless listed
    for pattern in ("**/*.dev-keys", "**/.env", "**/*.db"):
        assert pattern in ignored


def test_compose_runs_it_with_postgresql_and_takes_secrets_from_outside() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"].startswith("postgres:") and _pinned(db["image"])
    assert app["build"] == "." and app["depends_on"]["db"]["condition"] == "service_healthy"
    env = app["environment"]
    variable = re.compile(r"\$\{\w+(:\?[^}]*)?\}")
    for service in (db, app):
        for name, value in service["environment"].items():
            if SECRET_NAMES.search(name):  # a ${VARIABLE} from .env, never a literal
                assert variable.fullmatch(str(value)), name
    url = env["CRISIS_TRIAGE_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:" in url
    password = url.removeprefix("postgresql://").split("@")[0].partition(":")[2]
    assert variable.fullmatch(password)
    assert env["CRISIS_TRIAGE_ENCRYPTION_KEY_FILE"].startswith("/run/secrets/")
    assert compose["secrets"]["encryption-keys"]["file"].startswith("./secrets/")
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "/secrets/" in ignored
