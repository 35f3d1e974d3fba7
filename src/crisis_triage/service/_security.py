"""Security headers on every response, and the client address for the audit log.

A pure ASGI middleware (no per-request objects beyond one closure): it puts the client address
into ``audit_origin`` for the request's duration, and adds the headers below to every HTTP
response, the API's and the dashboard's alike.  Behind a proxy, run uvicorn with
``--proxy-headers --forwarded-allow-ips=<proxy>`` so the client address is the real one.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crisis_triage.governance import audit_origin

# Everything from this origin only; no inline scripts or styles, no plugins, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (/docs, /redoc) run Swagger UI and ReDoc, served from this origin,
# with an inline start-up script; they show no patient data, so they get a looser policy.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# API responses may carry patient data: never stored by a browser or a proxy.
API_PREFIX = "/v1/"

_Headers = list[tuple[bytes, bytes]]


def _encoded(pairs: Iterable[tuple[str, str]]) -> _Headers:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


class SecurityMiddleware:
    """Adds the security headers and sets ``audit_origin``; see the module docstring."""

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        common = [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
        ]
        if hsts:
            common.append(("strict-transport-security", STRICT_TRANSPORT_SECURITY))
        self.headers = _encoded([*common, ("content-security-policy", CONTENT_SECURITY_POLICY)])
        self.docs_headers = _encoded(
            [*common, ("content-security-policy", DOCS_CONTENT_SECURITY_POLICY)]
        )
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        added = self.docs_headers if path in self.docs_paths else self.headers
        force_no_store = path.startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: _Headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                has_cache_control = b"cache-control" in present
                if force_no_store and has_cache_control:
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    has_cache_control = False
                if not has_cache_control:
                    headers.append((b"cache-control", b"no-store"))
                # A page that sets a stricter header of its own keeps it.
                message["headers"] = headers + [(n, v) for n, v in added if n not in present]
            await send(message)

        client = scope.get("client")
        token = audit_origin.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            audit_origin.reset(token)
