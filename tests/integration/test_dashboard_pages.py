"""The dashboard's pages through FastAPI's TestClient: sessions, CSRF, roles, each page, the
case actions, admin changes, runtime settings, and the audit calls they make."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import PASSWORD, Factory, empty_tables, settings_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_helpers import csrf_of, log_in, post_form

from crisis_triage import detector
from crisis_triage.storage import AuthToken, Case, User, make_engine, make_session_factory
from crisis_triage.triage import Role
from crisis_triage.web import _pages_admin, _pages_case, _pages_queue, create_app

SECRET_TEXT = "I will take an overdose of my pills tonight"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def users(db: Session) -> dict[str, int]:
    factory = Factory(db)
    return {
        name: factory.user(role, name=name)[0]
        for name, role in (
            ("sam", Role.SPECIALIST),
            ("tess", Role.SPECIALIST),
            ("sue", Role.SUPERVISOR),
            ("ada", Role.ADMIN),
        )
    }


@pytest.fixture
def platform(db: Session) -> dict[str, str]:
    return Factory(db).api_key("messages:write")


@pytest.fixture
def audits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every record_audit call the pages make (the real one is a stub being built)."""
    calls: list[dict[str, Any]] = []

    def record(_session: Session, action: str, **fields: Any) -> None:
        calls.append({"action": action, **fields})

    for module in (_pages_queue, _pages_case, _pages_admin):
        monkeypatch.setattr(module, "record_audit", record)
    return calls


def _client(url: str, base_url: str = "http://testserver", **overrides: Any) -> TestClient:
    app = create_app(settings_for(url, **overrides), scorer=FakeScorer())
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


@pytest.fixture
def web(sqlite_url: str, users: dict[str, int]) -> Iterator[TestClient]:
    with _client(sqlite_url) as client:
        yield client


def _send(client: TestClient, platform: dict[str, str], text: str, patient: str = "p-1") -> int:
    reply = client.post(
        "/v1/messages", json=message(text=text, patient_id=patient), headers=platform
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["case_id"])


# --- sessions and login ---------------------------------------------------------------------


def test_pages_send_anonymous_visitors_to_login_with_the_way_back(web: TestClient) -> None:
    for page in ("/queue", "/cases/1", "/supervisor", "/admin"):
        reply = web.get(page, follow_redirects=False)
        assert reply.status_code == 303
        assert reply.headers["location"] == f"/login?next={page}"


def test_login_sets_a_strict_http_only_session_cookie_and_follows_next(web: TestClient) -> None:
    page = web.get("/login?next=/supervisor")
    reply = web.post(
        "/login",
        data={
            "username": "sue",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/supervisor",
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/supervisor"
    cookie = next(c for c in reply.headers.get_list("set-cookie") if c.startswith("ct_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # development; production below
    assert web.get("/supervisor").status_code == 200


def test_session_cookie_is_secure_outside_development(
    sqlite_url: str, users: dict[str, int]
) -> None:
    settings = {"environment": "production", "secret_key": "s" * 40}
    with _client(sqlite_url, "https://testserver", **settings) as client:
        page = client.get("/login")
        reply = client.post(
            "/login",
            data={"username": "sam", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        cookie = next(c for c in reply.headers.get_list("set-cookie") if "ct_session=" in c)
        assert "Secure" in cookie


def test_wrong_password_is_refused_without_saying_which_part(web: TestClient) -> None:
    page = web.get("/login")
    reply = web.post(
        "/login",
        data={"username": "sam", "password": "nope-nope-nope", "csrf_token": csrf_of(page.text)},
    )
    assert reply.status_code == 401
    assert "Wrong username or password" in reply.text
    assert "ct_session" not in web.cookies


def test_login_without_the_forms_csrf_token_is_refused(web: TestClient) -> None:
    web.get("/login")
    reply = web.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": "x"})
    assert reply.status_code == 403
    assert "ct_session" not in web.cookies


def test_login_goes_through_triage_authenticate(
    web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crisis_triage.web import _pages_auth

    seen: list[str] = []
    real = _pages_auth.authenticate

    def spy(session: Session, username: str, password: str) -> User | None:
        seen.append(username)
        return real(session, username, password)

    monkeypatch.setattr(_pages_auth, "authenticate", spy)
    log_in(web, "sam")
    assert seen == ["sam"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "queue"])
def test_login_never_redirects_off_site(web: TestClient, target: str) -> None:
    page = web.get("/login")
    reply = web.post(
        "/login",
        data={
            "username": "sam",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": target,
        },
        follow_redirects=False,
    )
    assert reply.headers["location"] == "/queue"


def test_logout_ends_the_session(web: TestClient, db: Session) -> None:
    log_in(web, "sam")
    reply = post_form(web, "/queue", "/logout", {})
    assert reply.status_code == 303
    token = db.scalar(select(AuthToken).where(AuthToken.kind == "session"))
    assert token is not None and token.revoked_at is not None
    web.cookies.clear()
    web.cookies.set("ct_session", "ctu_stale")
    assert web.get("/queue", follow_redirects=False).status_code == 303


def test_idle_sessions_expire_and_use_extends_them(web: TestClient, db: Session) -> None:
    log_in(web, "sam")
    row = db.scalar(select(AuthToken).where(AuthToken.kind == "session"))
    assert row is not None
    # Idle for longer than SESSION_IDLE_MINUTES (30): the login is gone.
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.commit()
    assert web.get("/queue", follow_redirects=False).status_code == 303


def test_an_api_token_in_the_cookie_is_not_a_session(web: TestClient, db: Session) -> None:
    _user_id, api_token = Factory(db).user(Role.ADMIN, name="apiuser")
    web.cookies.set("ct_session", api_token)
    assert web.get("/queue", follow_redirects=False).status_code == 303


# --- roles and CSRF -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("sam", {"/queue"}),
        ("sue", {"/queue", "/supervisor"}),
        ("ada", {"/queue", "/supervisor", "/admin"}),
    ],
)
def test_each_page_checks_the_role(web: TestClient, name: str, allowed: set[str]) -> None:
    log_in(web, name)
    for page in ("/queue", "/supervisor", "/admin"):
        reply = web.get(page)
        assert reply.status_code == (200 if page in allowed else 403), page
        if page not in allowed:
            assert "needs the" in reply.text
            assert reply.headers["content-type"].startswith("text/html")


def test_every_post_needs_the_sessions_csrf_token(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "ada")
    posts = [
        f"/cases/{case_id}/claim",
        f"/cases/{case_id}/resolve",
        "/queue/claim",
        "/admin/users",
        "/admin/users/1",
        "/admin/apikeys",
        "/admin/apikeys/1/revoke",
        "/admin/settings",
        "/logout",
    ]
    for path in posts:
        for token in ({}, {"csrf_token": "0" * 64}):
            reply = web.post(path, data={"disposition": "not_crisis", **token})
            assert reply.status_code == 403, path
            assert "did not come from this page" in reply.text
    log_in(web, "sam")  # another session's token is no good either
    other = csrf_of(web.get("/queue").text)
    log_in(web, "ada")
    assert web.post(f"/cases/{case_id}/claim", data={"csrf_token": other}).status_code == 403
    assert web.get(f"/cases/{case_id}").text.count("Claimed by") == 0


def test_pages_carry_security_headers(web: TestClient) -> None:
    log_in(web, "sam")
    reply = web.get("/queue")
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-frame-options"] == "DENY"


def test_pages_load_nothing_from_elsewhere(web: TestClient) -> None:
    log_in(web, "ada")
    for page in ("/login", "/queue", "/supervisor", "/admin"):
        html = web.get(page).text
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html), page


# --- queue ----------------------------------------------------------------------------------


def test_queue_lists_crises_first_with_a_label_and_a_preview(
    web: TestClient, platform: dict[str, str], audits: list[dict[str, Any]]
) -> None:
    routine = _send(web, platform, "Can I move my appointment to Tuesday?", "p-2")
    crisis = _send(web, platform, SECRET_TEXT, "p-3")
    log_in(web, "sam")
    html = web.get("/queue").text
    rows = re.findall(r'data-case="(\d+)" data-tier="(\d)"', html)
    assert rows == [(str(crisis), "0"), (str(routine), "2")]
    assert "Crisis</span>" in html and "Routine</span>" in html  # a word, not colour alone
    assert SECRET_TEXT in html and "p-3" in html
    assert "<title>(1) Queue" in html
    assert sorted((a["action"], a["case_id"]) for a in audits) == [
        ("message.read", routine),
        ("message.read", crisis),
    ]
    assert audits[0]["actor"].kind == "user" and audits[0]["actor"].name == "sam"


def test_queue_rows_refresh_only_when_something_changed(
    web: TestClient, platform: dict[str, str], audits: list[dict[str, Any]]
) -> None:
    first = _send(web, platform, "hello there")
    log_in(web, "sam")
    reply = web.get("/queue/rows")
    signature = reply.headers["x-queue-signature"]
    assert web.get(f"/queue/rows?signature={signature}&after={first}").status_code == 204
    audits.clear()
    crisis = _send(web, platform, SECRET_TEXT)
    reply = web.get(f"/queue/rows?signature={signature}&after={first}")
    assert reply.status_code == 200
    assert reply.headers["x-queue-crises"] == "1"
    assert reply.headers["x-queue-max-case"] == str(crisis)
    assert f'data-case="{crisis}"' in reply.text
    # Only the preview the page had not shown before is audited again.
    assert [a["case_id"] for a in audits] == [crisis]


def test_queue_rows_tell_the_script_to_log_in_again(web: TestClient) -> None:
    reply = web.get("/queue/rows", follow_redirects=False)
    assert reply.status_code == 401
    assert reply.headers["x-login"].startswith("/login")


def test_claim_next_opens_the_top_case(web: TestClient, platform: dict[str, str]) -> None:
    _send(web, platform, "hello")
    crisis = _send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    reply = post_form(web, "/queue", "/queue/claim", {})
    assert reply.headers["location"] == f"/cases/{crisis}"
    empty = post_form(web, "/queue", "/queue/claim", {})
    assert empty.headers["location"] == f"/cases/{crisis - 1}"
    third = post_form(web, "/queue", "/queue/claim", {})
    assert third.headers["location"] == "/queue?done=empty"


# --- case page ------------------------------------------------------------------------------


def test_case_page_highlights_terms_explains_and_shows_the_patient(
    web: TestClient, platform: dict[str, str], audits: list[dict[str, Any]]
) -> None:
    earlier = _send(web, platform, "my prescription ran out", "p-5")
    case_id = _send(web, platform, SECRET_TEXT, "p-5")
    _send(web, platform, "a different patient entirely", "p-6")
    log_in(web, "sam")
    html = web.get(f"/cases/{case_id}").text
    assert "<mark>overdose</mark>" in html
    assert "threshold 50.0%" in html and "flagged as a possible crisis" in html
    assert "“overdose”" in html and "+1.50" in html  # the top n-gram and its push
    assert "my prescription ran out" in html
    assert "a different patient entirely" not in html
    assert f'href="/cases/{earlier}"' in html
    read = sorted(
        (a["case_id"], a["message_id"], a["patient_id"])
        for a in audits
        if a["action"] == "message.read"
    )
    assert [r[0] for r in read] == [earlier, case_id]
    assert {r[2] for r in read} == {"p-5"}


def test_case_page_offers_only_the_actions_the_state_machine_allows(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/claim"' in html
    assert f'action="/cases/{case_id}/resolve"' not in html
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/claim"' not in html
    assert f'action="/cases/{case_id}/resolve"' in html
    assert 'value="confirmed_crisis"' in html and 'value="missed_crisis"' not in html
    log_in(web, "tess")  # another specialist: the case is sam's
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/resolve"' not in html
    assert "being worked by sam" in html


def test_claim_acknowledge_resolve_as_a_crisis(
    web: TestClient, platform: dict[str, str], db: Session, audits: list[dict[str, Any]]
) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    page = f"/cases/{case_id}"
    assert post_form(web, page, f"{page}/claim", {}).headers["location"] == f"{page}?done=claim"
    assert post_form(web, page, f"{page}/acknowledge", {}).status_code == 303
    reply = post_form(
        web,
        page,
        f"{page}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["OD", "SI"], "note": "called"},
    )
    assert reply.headers["location"] == "/queue?done=resolved"
    case = db.get(Case, case_id)
    assert case is not None
    db.refresh(case)
    assert (case.status, case.disposition, case.crisis_type, case.note) == (
        "resolved",
        "confirmed_crisis",
        "SI/OD",
        "called",
    )
    actions = [a["action"] for a in audits if a["action"].startswith("case.")]
    assert actions == ["case.claim", "case.acknowledge", "case.resolve"]
    assert "Case resolved." in web.get("/queue?done=resolved").text


def test_not_a_crisis_and_missed_crisis_are_the_retraining_labels(
    web: TestClient, platform: dict[str, str], db: Session
) -> None:
    flagged = _send(web, platform, SECRET_TEXT)
    unflagged = _send(web, platform, "nobody would notice if I was gone")
    log_in(web, "sam")
    for case_id, disposition, types in (
        (flagged, "not_crisis", ["OD"]),  # the pre-ticked types are dropped for "not a crisis"
        (unflagged, "missed_crisis", ["SI"]),
    ):
        post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
        reply = post_form(
            web,
            f"/cases/{case_id}",
            f"/cases/{case_id}/resolve",
            {"disposition": disposition, "crisis_types": types},
        )
        assert reply.status_code == 303, reply.text
    from crisis_triage.triage import iter_labels

    labels = next(iter_labels(db))
    assert dict(zip(labels["disposition"], labels["crisis"], strict=True)) == {
        "not_crisis": 0,
        "missed_crisis": 1,
    }


def test_a_wrong_disposition_is_explained_on_the_page(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = _send(web, platform, "hello")
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    reply = post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["SI"], "note": "kept"},
    )
    assert reply.status_code == 422
    assert "missed_crisis" in reply.text
    assert ">kept</textarea>" in reply.text  # what was typed is not lost


def test_acting_on_another_specialists_case_is_refused(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    log_in(web, "tess")
    reply = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/acknowledge", {})
    assert reply.status_code == 403
    assert "claimed by another specialist" in reply.text


def test_escalate_then_only_a_supervisor_can_claim(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    reply = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/escalate", {"note": "help"})
    assert reply.headers["location"] == "/queue?done=escalated"
    assert f'action="/cases/{case_id}/claim"' not in web.get(f"/cases/{case_id}").text
    log_in(web, "sue")
    assert f'action="/cases/{case_id}/claim"' in web.get(f"/cases/{case_id}").text


def test_unknown_case_is_a_404_page(web: TestClient) -> None:
    log_in(web, "sam")
    reply = web.get("/cases/999")
    assert reply.status_code == 404
    assert "does not exist" in reply.text


# --- supervisor -----------------------------------------------------------------------------


def test_supervisor_numbers_follow_the_work(web: TestClient, platform: dict[str, str]) -> None:
    case_id = _send(web, platform, SECRET_TEXT)
    log_in(web, "sue")

    def card(html: str, card_id: str) -> str:
        match = re.search(rf'id="{card_id}">([^<]*)<', html)
        assert match, card_id
        return match.group(1)

    before = web.get("/supervisor").text
    assert card(before, "open-crises") == "1"
    assert card(before, "ppv") == "–"
    assert "<svg" in before and "<polyline" not in before
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["OD"]},
    )
    after = web.get("/supervisor").text
    assert card(after, "open-crises") == "0"
    assert card(after, "ppv") == "100%"
    assert card(after, "median-crisis") != "–"
    assert "line-crisis-dot" in after


# --- admin ----------------------------------------------------------------------------------


def test_admin_creates_changes_and_deactivates_users(
    web: TestClient, db: Session, audits: list[dict[str, Any]]
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
    assert [a["action"] for a in audits] == ["user.create", "user.update"]
    assert audits[1]["details"] == {
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


def test_a_new_api_key_is_shown_once_and_can_be_revoked(
    web: TestClient, audits: list[dict[str, Any]]
) -> None:
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
    assert [a["action"] for a in audits] == ["apikey.create", "apikey.revoke"]
    assert key.group(1) not in str(audits)


def test_runtime_settings_override_the_environment_in_the_running_service(
    web: TestClient, platform: dict[str, str], db: Session, audits: list[dict[str, Any]]
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
    assert sorted(a["details"]["key"] for a in audits) == ["auto_reply_text", "escalation_minutes"]
    _send(web, platform, SECRET_TEXT)  # a flagged message now gets the automatic reply
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
    assert f"auroc (CV)</dt><dd>{card['metrics_cv']['auroc']['value']}" in html


def test_without_a_model_the_admin_page_says_messages_queue_unscored(
    sqlite_url: str, users: dict[str, int]
) -> None:
    with TestClient(create_app(settings_for(sqlite_url), scorer=None)) as client:
        log_in(client, "ada")
        assert "No model is loaded" in client.get("/admin").text
