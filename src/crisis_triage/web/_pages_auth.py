"""Logging in and out.  Login goes through ``triage.authenticate`` (lockout and auditing live
there); a success starts a cookie session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from crisis_triage.accounts import (
    FIRST_ADMIN_COMMAND,
    authenticate,
    has_users,
    revoke_token,
    start_session,
)
from crisis_triage.governance import audit_origin
from crisis_triage.service import SessionDep, StateDep, login_limiter
from crisis_triage.web._render import render
from crisis_triage.web._security import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    MaybeUser,
    SpecialistForm,
    clear_cookie,
    csrf_ok,
    csrf_token,
    new_prelogin_token,
    session_lifetimes,
    set_cookie,
)

router = APIRouter(include_in_schema=False)

_PRELOGIN_SECONDS = 30 * 60


def safe_next(target: str | None) -> str:
    """Only paths on this site (never ``//host`` or a full URL) are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


def _first_run(session: SessionDep) -> bool:
    """True when nobody can log in yet (the page then says how to create the first admin)."""
    try:
        return not has_users(session)
    except SQLAlchemyError:  # the database is down: the login itself will say so
        session.rollback()
        return False


def _login_page(
    request: Request,
    state: StateDep,
    session: SessionDep,
    *,
    next_path: str,
    error: str | None,
    status: int = 200,
) -> Response:
    prelogin = new_prelogin_token()
    response = render(
        request,
        "login.html.j2",
        {
            "csrf": csrf_token(state.settings, prelogin),
            "next_path": safe_next(next_path),
            "error": error,
            "bye": request.query_params.get("bye") is not None,
            "first_run": _first_run(session),
            "first_admin_command": FIRST_ADMIN_COMMAND,
        },
        user=None,
        status=status,
        title="Log in",
    )
    set_cookie(response, state.settings, PRELOGIN_COOKIE, prelogin, _PRELOGIN_SECONDS)
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
def login_form(
    request: Request, state: StateDep, session: SessionDep, user: MaybeUser, next: str = ""
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, state, session, next_path=next, error=None)


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    prelogin = request.cookies.get(PRELOGIN_COOKIE)
    if not csrf_ok(state.settings, prelogin, csrf_token):
        return _login_page(
            request,
            state,
            session,
            next_path=next,
            error="The login form expired. Please try again.",
            status=403,
        )
    # The same per-address limit as the API's login: attempts through either count together.
    retry_after = login_limiter(request).attempt(audit_origin.get() or "unknown")
    if retry_after is not None:
        refused = _login_page(
            request,
            state,
            session,
            next_path=next,
            error="Too many login attempts from this address. Please wait and try again.",
            status=429,
        )
        refused.headers["Retry-After"] = str(retry_after)
        return refused
    user = authenticate(session, username.strip(), password)
    if user is None:
        return _login_page(
            request,
            state,
            session,
            next_path=next,
            error="Wrong username or password.",
            status=401,
        )
    idle, _max_age = session_lifetimes(state.settings)
    token = start_session(session, user, idle=idle)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(
        response, state.settings, SESSION_COOKIE, token, state.settings.token_ttl_minutes * 60
    )
    clear_cookie(response, state.settings, PRELOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, state: StateDep, session: SessionDep, _user: SpecialistForm
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        revoke_token(session, token)
    response = RedirectResponse("/login?bye=1", status_code=303)
    clear_cookie(response, state.settings, SESSION_COOKIE)
    return response
