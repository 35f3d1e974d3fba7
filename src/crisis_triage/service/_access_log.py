"""One access-log record per request, safe to ship: route templates, never raw paths.

A raw path carries patient ids (``/v1/patients/p-42/history``) and a query string may carry a
search box's words, so the record names the route template (``/v1/patients/{patient_id}/history``)
that served the request.  With ``CRISIS_TRIAGE_LOG_FORMAT=json`` each record is one JSON object:
``method``, ``route``, ``status``, ``duration_ms``, ``request_id`` (the ``x-request-id`` the reply
carried), ``user_id`` or ``api_key`` (the key's name), ``started_at`` and ``time`` (UTC, to the
millisecond).  uvicorn's own access log, which prints raw paths, is switched off.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "crisis_triage.access"
UNMATCHED_ROUTE = "(no route)"
# A container health check asks every few seconds: successful probes are logged at DEBUG only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz"})
# Where the request's dependencies leave who called (see ``record_caller``).
_CALLER_KEY = "crisis_triage.caller"

log = logging.getLogger(ACCESS_LOGGER)


def record_caller(scope: Scope, *, user_id: int | None = None, api_key: str | None = None) -> None:
    """Note who made this request, for its access-log record (a user id or an API key's
    name: never a username, which may be a person's name)."""
    scope[_CALLER_KEY] = {"user_id": user_id, "api_key": api_key}


def iso_ms(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def route_template(scope: Scope) -> str:
    """The path pattern of the route that answered (``{patient_id}``, not the id itself)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    router = getattr(app, "router", None)
    partial = None
    for candidate in getattr(router, "routes", ()):
        match, _child = candidate.matches(scope)
        if match is Match.NONE:
            continue
        template = str(getattr(candidate, "path", UNMATCHED_ROUTE))
        if isinstance(candidate, Mount):
            template += "/{path}"
        if match is Match.FULL:
            return template
        partial = partial or template  # the path matched, the method did not (405)
    return partial or UNMATCHED_ROUTE


class AccessLogMiddleware:
    """Logs each HTTP request once it has been answered (or has failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Routing rewrites parts of the scope (root_path under a mount): match on the original.
        original = dict(scope)
        started_wall, started = time.time(), time.perf_counter()
        reply: dict[str, Any] = {"status": None, "request_id": None}

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                reply["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-request-id":
                        reply["request_id"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        finally:
            original["route"] = scope.get("route")
            self._log(original, scope, reply, started_wall, time.perf_counter() - started)

    @staticmethod
    def _log(
        original: Scope, scope: Scope, reply: dict[str, Any], started_wall: float, seconds: float
    ) -> None:
        caller = scope.get(_CALLER_KEY) or {}
        status = reply["status"] or 500  # nothing was sent: the server failed
        route = route_template(original)
        duration_ms = round(seconds * 1000, 1)
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        log.log(
            level,
            "%s %s %d %.1fms request_id=%s",
            scope["method"],
            route,
            status,
            duration_ms,
            reply["request_id"],
            extra={
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "request_id": reply["request_id"],
                "user_id": caller.get("user_id"),
                "api_key": caller.get("api_key"),
                "started_at": iso_ms(started_wall),
            },
        )
