"""The whole service as people use it: the JSON API plus the dashboard pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from crisis_triage.service import Settings
from crisis_triage.service import create_app as create_api
from crisis_triage.web import (
    _pages_admin,
    _pages_auth,
    _pages_care,
    _pages_case,
    _pages_queue,
    _pages_supervisor,
)
from crisis_triage.web._ledger import PreviewLedger
from crisis_triage.web._render import PAGE_HEADERS, STATIC_DIR, make_templates, render
from crisis_triage.web._security import LoginRequiredError, PageForbiddenError

DASHBOARD_PATH = "/queue"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequiredError)  # noqa: S101 (registered for this class only)
    target = "/login?next=" + quote(exc.next_path, safe="/")
    if request.url.path == "/queue/rows":  # the page's refresh: tell its script, not a redirect
        return Response(status_code=401, headers={"X-Login": target, **PAGE_HEADERS})
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbiddenError)  # noqa: S101
    return render(
        request,
        "error.html.j2",
        {"heading": "Not allowed", "message": exc.message},
        user=exc.user,
        status=403,
        title="Not allowed",
    )


def create_app(settings: Settings | None = None, **api_options: Any) -> FastAPI:
    """The API from ``crisis_triage.service.create_app`` with the dashboard mounted on it.

    ``api_options`` (``scorer``, ``webhook_transport``) are passed to the API factory.  The
    pages live at ``/login``, ``/queue``, ``/cases/{id}``, ``/follow-ups``, ``/patients/{id}``,
    ``/supervisor`` and ``/admin``; their scripts and styles at ``/static`` (no external
    resources).
    """
    app = create_api(settings, **api_options)
    app.state.web_templates = make_templates()
    app.state.preview_ledger = PreviewLedger()
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(PageForbiddenError, _forbidden)
    pages = (_pages_auth, _pages_queue, _pages_case, _pages_care, _pages_supervisor, _pages_admin)
    for module in pages:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
