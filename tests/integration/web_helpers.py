"""Helpers for the dashboard tests: a logged-in TestClient and the CSRF token of a page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from service_helpers import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Log ``username`` in on ``client`` (whoever was logged in before is forgotten)."""
    client.cookies.clear()
    page = client.get("/login")
    reply = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client


def post_form(client: TestClient, page: str, action: str, data: dict[str, object]) -> object:
    """POST a form from ``page`` (its CSRF token included), without following the redirect."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
