"""The admin page: users and roles, API keys shown once, runtime settings that the running
service uses, the model card, and the audit calls for each change."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from service_helpers import settings_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_helpers import (
    SECRET_TEXT,
    Audits,
    log_in,
    post_form,
    send,
)

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import audits as audits
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage import detector
from crisis_triage.storage import User
from crisis_triage.web import create_app

# --- admin ----------------------------------------------------------------------------------


def test_admin_creates_changes_and_deactivates_users(
    web: TestClient, db: Session, audits: Audits
) -> None:
    log_in(web, "ada")
    reply = post_form(
        web,
        "/admin",
        "/admin/users",
        {"username": "nina", "password": "a-long-password", "role": "specialist"},
    )
    assert reply.headers["location"] == "/admin?done=user_created"
    nina = db.scalar(select(User).where(User.username == "nina"))
    assert nina is not None and nina.role == "specialist"
    reply = post_form(
        web, "/admin", f"/admin/users/{nina.id}", {"role": "supervisor", "active": "no"}
    )
    assert reply.status_code == 303
    db.refresh(nina)
    assert (nina.role, nina.is_active) == ("supervisor", False)
    entries = audits()
    assert [a["action"] for a in entries] == ["user.create", "user.update"]
    assert {a["actor_name"] for a in entries} == {"ada"}
    assert entries[1]["details"] == {
        "user_id": nina.id,
        "role": "specialist->supervisor",
        "is_active": "true->false",
    }
    short = post_form(web, "/admin", "/admin/users", {"username": "x", "password": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text


def test_the_last_admin_cannot_demote_themselves(web: TestClient, users: dict[str, int]) -> None:
    log_in(web, "ada")
    reply = post_form(web, "/admin", f"/admin/users/{users['ada']}", {"role": "specialist"})
    assert reply.status_code == 400
    assert "last active admin" in reply.text


def test_a_new_api_key_is_shown_once_and_can_be_revoked(web: TestClient, audits: Audits) -> None:
    log_in(web, "ada")
    reply = post_form(
        web, "/admin", "/admin/apikeys", {"name": "dashboards", "scopes": ["queue:read"]}
    )
    assert reply.status_code == 201
    key = re.search(r'id="new-key" class="key-value" readonly value="(ctk_[^"]+)"', reply.text)
    assert key is not None
    assert (
        web.get("/v1/queue", headers={"Authorization": f"Bearer {key.group(1)}"}).status_code == 200
    )
    assert key.group(1) not in web.get("/admin").text
    key_id = re.search(r'action="/admin/apikeys/(\d+)/revoke"', web.get("/admin").text)
    assert key_id is not None
    post_form(web, "/admin", f"/admin/apikeys/{key_id.group(1)}/revoke", {})
    assert (
        web.get("/v1/queue", headers={"Authorization": f"Bearer {key.group(1)}"}).status_code == 401
    )
    entries = audits()
    assert [a["action"] for a in entries] == ["apikey.create", "apikey.revoke"]
    assert {a["actor_name"] for a in entries} == {"ada"}
    assert key.group(1) not in str(entries)


def test_runtime_settings_override_the_environment_in_the_running_service(
    web: TestClient, platform: dict[str, str], db: Session, audits: Audits
) -> None:
    log_in(web, "ada")
    reply = post_form(
        web,
        "/admin",
        "/admin/settings",
        {"escalation_minutes": "5", "auto_reply_text": "If you are in danger, call 988."},
    )
    assert reply.headers["location"] == "/admin?done=settings_saved"
    policy = web.app.state.service.policy  # type: ignore[attr-defined]
    assert (policy.escalation_minutes, policy.auto_reply_text) == (
        5.0,
        "If you are in danger, call 988.",
    )
    settings = [a for a in audits() if a["action"] == "settings.update"]
    assert sorted(a["details"]["key"] for a in settings) == [
        "auto_reply_text",
        "escalation_minutes",
    ]
    send(web, platform, SECRET_TEXT)  # a flagged message now gets the automatic reply
    from crisis_triage.storage import PatientReply

    assert db.scalar(select(PatientReply.text)) == "If you are in danger, call 988."
    bad = post_form(web, "/admin", "/admin/settings", {"escalation_minutes": "-1"})
    assert bad.status_code == 422 and "Escalation minutes" in bad.text
    post_form(web, "/admin", "/admin/settings/escalation_minutes/reset", {})
    assert web.app.state.service.policy.escalation_minutes == 15.0  # type: ignore[attr-defined]


def test_admin_page_shows_the_model_card(web: TestClient) -> None:
    log_in(web, "ada")
    html = web.get("/admin").text
    assert "Active model" in html and "0.5000" in html and "fake-1" in html


class _BundledCardScorer(FakeScorer):
    card_ = json.loads(
        (Path(detector.__file__).parent / "bundled" / "default.card.json").read_text()
    )


def test_admin_page_summarises_a_real_model_card(sqlite_url: str, users: dict[str, int]) -> None:
    app = create_app(settings_for(sqlite_url), scorer=_BundledCardScorer())
    with TestClient(app) as client:
        log_in(client, "ada")
        html = client.get("/admin").text
    card = _BundledCardScorer.card_
    assert card["file_sha256"] in html
    assert f"version {card['lexicon']['version']}" in html
    auroc = card["metrics_out_of_fold"]["full"]["auroc"]["value"]
    assert f"auroc (out of fold)</dt><dd>{auroc}" in html


def test_without_a_model_the_admin_page_says_messages_queue_unscored(
    sqlite_url: str, users: dict[str, int]
) -> None:
    with TestClient(create_app(settings_for(sqlite_url), scorer=None)) as client:
        log_in(client, "ada")
        assert "No model is loaded" in client.get("/admin").text
