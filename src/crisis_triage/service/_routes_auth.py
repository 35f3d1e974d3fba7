"""Logging in for the API: ``POST /v1/auth/token`` gives a bearer token; ``/v1/auth/me``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials

from crisis_triage.accounts import authenticate, issue_token, revoke_token
from crisis_triage.governance import audit_origin
from crisis_triage.service._deps import PrincipalDep, SessionDep, StateDep, bearer_scheme
from crisis_triage.service._errors import ApiError, ErrorBody, documented_errors
from crisis_triage.service._ratelimit import SlidingWindowLimiter, login_limiter
from crisis_triage.service._schemas import LoginIn, PrincipalOut, TokenOut

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenOut,
    responses=documented_errors(
        {
            400: "the body is not valid UTF-8 JSON",
            401: "wrong username or password (or the account is locked)",
            413: "the body is larger than the limit",
            415: "the body is not application/json",
            422: "a field is missing or invalid",
            429: "too many attempts from this address",
        }
    ),
    summary="Log in with a username and password; returns a bearer token",
)
def login(
    body: LoginIn,
    session: SessionDep,
    state: StateDep,
    limiter: Annotated[SlidingWindowLimiter, Depends(login_limiter)],
) -> TokenOut:
    """Five wrong passwords for one account within 15 minutes lock it for 15 minutes (the
    reply stays the same 401); too many attempts from one address get 429 with Retry-After."""
    retry_after = limiter.attempt(audit_origin.get() or "unknown")
    if retry_after is not None:
        log.warning("login attempts over the per-address limit")
        raise ApiError(
            429,
            "too many login attempts: try again later",
            headers={"Retry-After": str(retry_after)},
        )
    user = authenticate(session, body.username, body.password)
    if user is None:
        log.warning("failed login")
        raise ApiError(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    ttl = timedelta(minutes=state.settings.token_ttl_minutes)
    token, row = issue_token(session, user, ttl=ttl)
    log.info("user %d logged in", user.id)
    return TokenOut(
        access_token=token, expires_at=row.expires_at, username=user.username, role=user.role
    )


@router.post(
    "/logout",
    status_code=204,
    responses={401: {"model": ErrorBody, "description": "not logged in"}},
    summary="Revoke the bearer token this request carries",
)
def logout(
    principal: PrincipalDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    if principal.user is None:
        raise ApiError(403, "API keys are revoked with `crisis-triage apikeys revoke`")
    if credentials is not None:
        revoke_token(session, credentials.credentials)


@router.get(
    "/me",
    response_model=PrincipalOut,
    responses={401: {"model": ErrorBody, "description": "not logged in"}},
    summary="Who the bearer token or API key belongs to",
)
def me(principal: PrincipalDep) -> PrincipalOut:
    return PrincipalOut(
        kind="user" if principal.user else "api_key",
        name=principal.name,
        role=principal.role.value if principal.role else None,
        scopes=list(principal.scopes),
    )
