"""Dashboard sessions, CSRF tokens and role checks.

A login sets the ``ct_session`` cookie (HttpOnly, SameSite=Strict, Secure outside development)
holding a ``session`` token whose expiry slides with use.  Every form carries a CSRF token: an
HMAC of the session token under the secret key, checked on every POST.  The login form, posted
before there is a session, is bound the same way to a random pre-login cookie.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the guards' annotations as
# objects, since they name dependencies built inside functions.
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from crisis_triage.accounts import use_session
from crisis_triage.governance import AuditActor
from crisis_triage.service import ServiceState, SessionDep, Settings, StateDep, record_caller
from crisis_triage.storage import User
from crisis_triage.triage import Actor, Role

SESSION_COOKIE = "ct_session"
PRELOGIN_COOKIE = "ct_prelogin"
CSRF_FIELD = "csrf_token"


class LoginRequiredError(Exception):
    """No live session: the handler answers 303 to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbiddenError(Exception):
    """Logged in, but the role is too low (or the CSRF token is wrong): a 403 page."""

    def __init__(self, message: str, user: "WebUser | None" = None) -> None:
        super().__init__(message)
        self.message = message
        self.user = user


def csrf_token(settings: Settings, bound_to: str) -> str:
    """The CSRF token for a session (or pre-login) token: an HMAC under the secret key."""
    key = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, b"csrf:" + bound_to.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_ok(settings: Settings, bound_to: str | None, sent: object) -> bool:
    if not bound_to or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(csrf_token(settings, bound_to), sent)


@dataclass(frozen=True)
class WebUser:
    """The logged-in person on a page, with the CSRF token their forms carry."""

    id: int
    username: str
    role: Role
    csrf: str

    def can(self, role: Role) -> bool:
        return self.role.at_least(role)

    @property
    def is_supervisor(self) -> bool:
        return self.can(Role.SUPERVISOR)

    @property
    def is_admin(self) -> bool:
        return self.can(Role.ADMIN)

    def actor(self) -> Actor:
        return Actor(user_id=self.id, role=self.role)

    def audit_actor(self) -> AuditActor:
        return AuditActor(kind="user", id=self.id, name=self.username)


def _secure(settings: Settings) -> bool:
    return settings.environment != "development"


def set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=_secure(settings)
    )


def new_prelogin_token() -> str:
    return secrets.token_urlsafe(24)


def session_lifetimes(settings: Settings) -> tuple[timedelta, timedelta]:
    """(idle expiry, longest a login lasts)."""
    return (
        timedelta(minutes=settings.session_idle_minutes),
        timedelta(minutes=max(settings.token_ttl_minutes, settings.session_idle_minutes)),
    )


def _lookup(
    request: Request, state: ServiceState, session: SessionDep, *, extend: bool = True
) -> WebUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    idle, max_age = session_lifetimes(state.settings)
    user: User | None = use_session(session, token, idle=idle, max_age=max_age, extend=extend)
    if user is None:
        return None
    return WebUser(user.id, user.username, Role(user.role), csrf_token(state.settings, token))


def optional_user(request: Request, state: StateDep, session: SessionDep) -> WebUser | None:
    return _lookup(request, state, session)


def _next_path(request: Request) -> str:
    if request.method != "GET":
        return "/queue"
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def _page_user(role: Role, *, extend: bool = True) -> object:
    def guard(request: Request, state: StateDep, session: SessionDep) -> WebUser:
        user = _lookup(request, state, session, extend=extend)
        if user is None:
            raise LoginRequiredError(_next_path(request))
        record_caller(request.scope, user_id=user.id)
        if not user.can(role):
            raise PageForbiddenError(f"This page needs the {role.value} role.", user)
        return user

    return guard


SpecialistPage = Annotated[WebUser, Depends(_page_user(Role.SPECIALIST))]
SupervisorPage = Annotated[WebUser, Depends(_page_user(Role.SUPERVISOR))]
AdminPage = Annotated[WebUser, Depends(_page_user(Role.ADMIN))]
# A page refreshing itself: the session must be live, but this is not use (idle expiry runs on).
SpecialistPoll = Annotated[WebUser, Depends(_page_user(Role.SPECIALIST, extend=False))]
MaybeUser = Annotated[WebUser | None, Depends(optional_user)]


def _posting_user(role: Role) -> object:
    page_user = _page_user(role)

    def guard(
        user: Annotated[WebUser, Depends(page_user)],
        csrf_token: Annotated[str, Form(max_length=128)] = "",
    ) -> WebUser:
        if not hmac.compare_digest(user.csrf.encode(), csrf_token.encode()):
            raise PageForbiddenError(
                "The form has expired or did not come from this page. "
                "Go back, reload the page and try again.",
                user,
            )
        return user

    return guard


# For POST routes: the user, after the form's CSRF token was checked.
SpecialistForm = Annotated[WebUser, Depends(_posting_user(Role.SPECIALIST))]
SupervisorForm = Annotated[WebUser, Depends(_posting_user(Role.SUPERVISOR))]
AdminForm = Annotated[WebUser, Depends(_posting_user(Role.ADMIN))]
