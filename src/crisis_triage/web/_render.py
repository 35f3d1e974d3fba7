"""Rendering pages: the Jinja2 environment, display filters, and the headers every page gets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from crisis_triage.web._security import CSRF_FIELD, WebUser

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Pages hold patient messages: never cached.  CSP, nosniff, no-referrer and no framing come
# from the service's security middleware (``service/_security.py``), which every response passes.
PAGE_HEADERS = {"Cache-Control": "no-store"}


def waited(seconds: float) -> str:
    """A waiting time as people read it: ``45s``, ``12m 05s``, ``3h 12m``, ``2d 4h``."""
    total = max(0, int(seconds))
    minutes, secs = divmod(total, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d {hrs}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def minutes_text(value: float | None) -> str:
    if value is None:
        return "–"
    return waited(value * 60)


def when(value: datetime | None) -> str:
    """A UTC time for tables: ``2026-11-22 14:03 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    # Every value is escaped (message text is untrusted): Starlette's default picks escaping by
    # file extension, and ours are ``.html.j2``.
    env.autoescape = True
    env.filters.update(waited=waited, minutes=minutes_text, when=when, percent=percent)
    env.globals.update(csrf_field=CSRF_FIELD)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: WebUser | None,
    status: int = 200,
    title: str = "",
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.web_templates
    full = {"user": user, "title": title, "path": request.url.path, **context}
    response = templates.TemplateResponse(request, name, full, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response
