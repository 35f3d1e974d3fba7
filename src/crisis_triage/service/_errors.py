"""One JSON error shape for every error the service returns, and the guards that produce it.

Every non-2xx reply is ``{"error": {"code", "message", "status", "details", "request_id"}}``:
validation errors, unknown routes, wrong methods, oversized or non-UTF-8 bodies, domain errors and
(should one ever happen) internal errors.  Details name fields, never echo what was sent, so
message text cannot leak into an error body.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crisis_triage.accounts import AccountError
from crisis_triage.care import CareInputError
from crisis_triage.integrations import FHIR_JSON, Issue, operation_outcome
from crisis_triage.integrations.paging import PagingChannelError
from crisis_triage.triage import (
    ConflictError,
    IdempotencyConflictError,
    InvalidDispositionError,
    InvalidTransitionError,
    NoteRequiredError,
    NotFoundError,
    PermissionDeniedError,
    TriageError,
)

log = logging.getLogger(__name__)

# The FHIR endpoint answers errors with an OperationOutcome instead of the envelope (FHIR
# clients expect one); the Twilio webhook takes the form Twilio posts.
FHIR_BASE_PATH = "/fhir/r4"
TWILIO_SMS_PATH = "/v1/channels/sms/twilio"
# OperationOutcome issue types by HTTP status.
_FHIR_ISSUE_TYPES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "duplicate",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "transient",
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
_DOMAIN_STATUS: dict[type[TriageError], int] = {
    NotFoundError: 404,
    PermissionDeniedError: 403,
    InvalidTransitionError: 409,
    ConflictError: 409,
    IdempotencyConflictError: 409,
    InvalidDispositionError: 422,
    NoteRequiredError: 422,
    AccountError: 400,
    CareInputError: 422,
    PagingChannelError: 422,
}


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    status: int
    details: list[ErrorDetail] | None = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    """The body of every error reply."""

    error: ErrorInfo


class ApiError(Exception):
    """Raise from a route to answer with the error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = list(details) if details is not None else None
        self.headers = headers


def documented_errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for a router: every listed status uses the one error envelope."""
    return {code: {"model": ErrorBody, "description": text} for code, text in descriptions.items()}


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Sequence[ErrorDetail] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    info = ErrorInfo(
        code=code or _CODES.get(status, "error"),
        message=message,
        status=status,
        details=list(details) if details is not None else None,
        request_id=request_id,
    )
    return ErrorBody(error=info).model_dump(mode="json")


def is_fhir_path(path: str) -> bool:
    return path == FHIR_BASE_PATH or path.startswith(FHIR_BASE_PATH + "/")


def fhir_error_response(
    status: int, issues: Sequence[Issue], *, headers: dict[str, str] | None = None
) -> Response:
    body = operation_outcome(issues).model_dump_json()
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _fhir_issues(status: int, message: str, details: Sequence[ErrorDetail] | None) -> list[Issue]:
    issue_type = _FHIR_ISSUE_TYPES.get(status, "processing")
    issues = [Issue(issue_type, message)]
    for detail in details or ():
        where = ".".join(str(part) for part in detail.loc)
        issues.append(Issue(issue_type, f"{where}: {detail.msg}", where or None))
    return issues


def error_response(
    request: Request | None,
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Sequence[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error envelope, or an OperationOutcome on the FHIR endpoint."""
    if request is not None and is_fhir_path(request.url.path):
        return fhir_error_response(status, _fhir_issues(status, message, details), headers=headers)
    request_id = request.scope.get("request_id") if request is not None else None
    body = error_body(status, message, code=code, details=details, request_id=request_id)
    return JSONResponse(body, status_code=status, headers=headers)


def _clean_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    details = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        details.append(ErrorDetail(loc=loc, msg=str(error.get("msg", "")), type=error["type"]))
    return details


async def _validation_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    details = _clean_details(exc.errors())
    if any(d.type == "json_invalid" for d in details):
        return error_response(request, 400, "the body is not valid JSON", code="invalid_json")
    fields = ", ".join(".".join(str(p) for p in d.loc) for d in details[:5])
    return error_response(request, 422, f"invalid request: {fields}", details=details)


async def _http_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    status = exc.status_code
    message = str(exc.detail) if isinstance(exc.detail, str) else _CODES.get(status, "error")
    code = None
    if status == 400 and "parsing the body" in message:
        message, code = "the body is not valid UTF-8 JSON", "invalid_json"
    elif status == 404:
        message = "no such resource"
    elif status == 405:
        message = f"method {request.method} is not allowed here"
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, status, message, code=code, headers=headers)


async def _api_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):  # pragma: no cover
        raise exc
    return error_response(
        request, exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers
    )


async def _domain_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, TriageError):  # pragma: no cover
        raise exc
    status = next((s for cls, s in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    details = None
    if isinstance(exc, IdempotencyConflictError):
        loc: list[str | int] = ["body", exc.index, "idempotency_key"]
        details = [ErrorDetail(loc=loc, msg=str(exc), type=exc.code)]
    return error_response(request, status, str(exc), code=exc.code, details=details)


async def _database_handler(request: Request, exc: Exception) -> Response:
    log.error("database unavailable: %s", type(exc).__name__)
    return error_response(
        request, 503, "the database is unavailable: try again shortly", headers={"Retry-After": "5"}
    )


def install_error_handlers(app: FastAPI, *, max_body_bytes: int, max_in_flight: int) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ApiError, _api_handler)
    app.add_exception_handler(TriageError, _domain_handler)
    app.add_exception_handler(OperationalError, _database_handler)
    app.add_exception_handler(PoolTimeoutError, _database_handler)
    app.add_middleware(GuardMiddleware, max_body_bytes=max_body_bytes, max_in_flight=max_in_flight)


def _media_types(path: str) -> tuple[str, ...]:
    """The body types a path takes: the JSON API JSON only, the FHIR endpoint FHIR JSON, the
    Twilio webhook Twilio's form, the dashboard's pages (outside /v1/) forms too."""
    if is_fhir_path(path):
        return (FHIR_JSON, "application/json")
    if path == TWILIO_SMS_PATH:
        return ("application/x-www-form-urlencoded",)
    if path.startswith("/v1/"):
        return ("application/json",)
    return ("application/json", "application/x-www-form-urlencoded")


class _BodyTooLargeError(HTTPException):
    """Raised while a body is read past the limit (a FastAPI HTTPException, so that the route's
    body reader passes it on and the 413 handler answers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the body exceeds {limit} bytes")


class GuardMiddleware:
    """The outermost guard: request ids, load shedding, the body size limit, JSON-only bodies,
    and a last catch so that an unexpected exception still gets the envelope and logs its type
    only.

    Past ``max_in_flight`` requests at once (event streams not counted) new requests get 503
    with Retry-After at once, rather than queueing until every client times out; senders retry
    safely with the same idempotency key.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_in_flight: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope["request_id"] = request_id
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        async def reply(status: int, message: str, code: str | None = None) -> None:
            response: Response
            if is_fhir_path(scope["path"]):
                response = fhir_error_response(status, _fhir_issues(status, message, None))
            else:
                body = error_body(status, message, code=code, request_id=request_id)
                response = JSONResponse(body, status_code=status)
            await response(scope, receive, send_wrapper)

        counted = not scope["path"].endswith("/stream")
        if counted and self.in_flight >= self.max_in_flight:
            body = error_body(503, "the service is busy: retry shortly", request_id=request_id)
            busy: Response = JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
            if is_fhir_path(scope["path"]):
                issues = _fhir_issues(503, "the service is busy: retry shortly", None)
                busy = fhir_error_response(503, issues, headers={"Retry-After": "1"})
            await busy(scope, receive, send_wrapper)
            return
        self.in_flight += counted
        try:
            await self._guarded(scope, receive, send_wrapper, reply, headers)
        finally:
            self.in_flight -= counted

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send_wrapper: Send,
        reply: Callable[..., Awaitable[None]],
        headers: dict[str, str],
    ) -> None:
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_wrapper(message)

        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await reply(413, f"the body exceeds {self.max_body_bytes} bytes")
            return
        if scope["method"] in {"POST", "PUT", "PATCH"} and (length not in (None, "0")):
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = _media_types(scope["path"])
            if media not in allowed:
                await reply(415, f"send the body as {' or '.join(allowed)}")
                return

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError(self.max_body_bytes)
            return message

        try:
            await self.app(scope, receive_limited, send_tracking)
        except _BodyTooLargeError:
            if not started:
                await reply(413, f"the body exceeds {self.max_body_bytes} bytes")
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if not started:
                await reply(500, "internal error: the request was not completed")
