"""Dashboard sessions, login and logout, idle expiry, CSRF on every POST, role checks and the
security headers (FastAPI TestClient)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from service_helpers import PASSWORD, Factory
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_helpers import (
    SECRET_TEXT,
    browser_or_skip,
    csrf_of,
    log_in,
    make_client,
    post_form,
    send,
)

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import audits as audits
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.storage import AuthToken, User, generate_key_line
from crisis_triage.triage import Role

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
    settings = {
        "environment": "production",
        "secret_key": "s" * 40,
        "encryption_keys": generate_key_line("prod"),
    }
    with make_client(sqlite_url, "https://testserver", **settings) as client:
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


def test_too_many_logins_from_one_address_get_429_like_the_api(
    sqlite_url: str, users: dict[str, int]
) -> None:
    with make_client(sqlite_url, "http://testserver", login_attempts_per_minute=2) as client:
        statuses = []
        for _ in range(3):
            page = client.get("/login")
            reply = client.post(
                "/login",
                data={"username": "sam", "password": "nope-nope", "csrf_token": csrf_of(page.text)},
            )
            statuses.append(reply.status_code)
        assert statuses == [401, 401, 429]
        assert int(reply.headers["retry-after"]) >= 1
        assert "Too many login attempts" in reply.text


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
    case_id = send(web, platform, SECRET_TEXT)
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


def test_browser_tests_skip_without_chromium_unless_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRISIS_TRIAGE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-chromium"):
        browser_or_skip("/no-such-chromium")
    monkeypatch.setenv("CRISIS_TRIAGE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        browser_or_skip("/no-such-chromium")
