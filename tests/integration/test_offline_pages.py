"""Every page works on an air-gapped network: no page of the service or the dashboard (the API
docs included) loads or links anything from another host, and the docs' own files are served."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import SECRET_TEXT, log_in, post_form, send

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.web import (
    _pages_admin,
    _pages_auth,
    _pages_care,
    _pages_case,
    _pages_queue,
    _pages_supervisor,
)

_REFERENCE = re.compile(r"""(?:src|href|action|content)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)""")
_ANY_URL = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", re.IGNORECASE)


def _external(reference: str) -> bool:
    parts = urlsplit(reference.strip())
    return bool(parts.netloc) and parts.netloc != "testserver"


def _references(body: str) -> list[str]:
    return _REFERENCE.findall(body) + _CSS_URL.findall(body)


def test_the_external_check_sees_a_cdn() -> None:
    page = '<script src="https://cdn.jsdelivr.net/x.js"></script><link href="//fonts.x.com/a">'
    assert [r for r in _references(page) if _external(r)] == [
        "https://cdn.jsdelivr.net/x.js",
        "//fonts.x.com/a",
    ]
    assert not _external("/docs/assets/swagger-ui.css") and not _external("#main")


def test_api_docs_load_everything_from_the_service(web: TestClient) -> None:
    page = web.get("/docs")
    assert page.status_code == 200
    references = _references(page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert not [r for r in references if _external(r)], references
    assets = [r for r in references if r.startswith("/docs/assets/")]
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        reply = web.get(asset)
        assert reply.status_code == 200 and len(reply.content) > 1000, asset
    assert web.get("/docs/oauth2-redirect").status_code == 200
    assert web.get("/openapi.json").status_code == 200
    redoc = web.get("/redoc")
    assert redoc.status_code == 200
    redoc_refs = _references(redoc.text)
    assert not [r for r in redoc_refs if _external(r)], redoc_refs
    assert any(r.startswith("/docs/assets/") for r in redoc_refs)


def _page_paths(ids: dict[str, str]) -> set[str]:
    """Every GET route of the dashboard's page modules (as ``web.create_app`` mounts them), its
    path parameters filled from ``ids``, and the API docs: a page added later is checked too."""
    modules = (_pages_auth, _pages_queue, _pages_case, _pages_care, _pages_supervisor, _pages_admin)
    routes = [r for module in modules for r in module.router.routes]
    found = {r.path.format(**ids) for r in routes if isinstance(r, APIRoute) and "GET" in r.methods}
    return found | {"/docs", "/redoc"}


def test_no_page_of_the_service_or_asset_refers_to_another_host(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT, patient="p-1")
    pages = {"/login": web.get("/login").text}
    log_in(web, "ada")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    plan = {"reasons_for_living": "my kids", "warning_signs": "not sleeping", "language": "en"}
    post_form(web, "/patients/p-1", "/patients/p-1/safety-plan", plan)
    paths = _page_paths({"case_id": str(case_id), "patient_id": "p-1"})
    expected = {"/queue", f"/cases/{case_id}", "/supervisor", "/admin", "/follow-ups"}
    expected |= {"/patients/p-1", "/patients/p-1/safety-plan/print", "/docs", "/redoc"}
    assert expected <= paths, expected - paths
    for path in sorted(paths):
        reply = web.get(path)
        assert reply.status_code == 200, path
        if reply.headers["content-type"].startswith("text/html"):
            pages[path] = reply.text
    assert expected <= set(pages)
    assets = {r for body in pages.values() for r in _references(body) if r.startswith("/static/")}
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for path, body in pages.items():
        external = [r for r in _references(body) if _external(r)]
        assert not external, (path, external)
    for asset in sorted(assets):
        reply = web.get(asset)
        assert reply.status_code == 200, asset
        assert not _ANY_URL.findall(reply.text), asset  # our own files name no host at all
