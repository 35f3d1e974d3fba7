"""Shared request dependencies: the database session, who is calling, and role/scope guards."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import anyio
import anyio.to_thread
from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crisis_triage.accounts import API_KEY_PREFIX, resolve_api_key, resolve_token
from crisis_triage.detector import Scorer
from crisis_triage.governance import AuditActor
from crisis_triage.service._access_log import record_caller
from crisis_triage.service._errors import ApiError
from crisis_triage.service._settings import Settings
from crisis_triage.storage import ApiKey, IntegrityFailure, User
from crisis_triage.triage import (
    Actor,
    Role,
    SemanticBacklog,
    TierStatus,
    TriagePolicy,
    effective_policy,
    tier_status,
)


class ApiKeyCache:
    """API keys resolved in the last ``seconds``, by the SHA-256 of the key.

    Saves the database round trip that looking a key up costs on every request.  The price: a
    key revoked in the database keeps working for up to ``seconds`` in each process that used it
    just before (``API_KEY_CACHE_SECONDS``, default 10; 0 turns the cache off).  Unknown and
    revoked keys are never cached.  Used on the event loop only (it is not thread-safe).
    """

    def __init__(
        self, seconds: float, *, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: TTLCache[str, ApiKey] | None = (
            TTLCache(maxsize=maxsize, ttl=seconds, timer=timer) if seconds > 0 else None
        )
        # Keys revoked through this process stop at once; adding to a set is atomic, so the
        # dashboard's worker threads may call ``forget`` while the loop reads.
        self._revoked_ids: set[int] = set()

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def get(self, key: str) -> ApiKey | None:
        if self._entries is None:
            return None
        row = self._entries.get(self._digest(key))
        return None if row is None or row.id in self._revoked_ids else row

    def forget(self, key_id: int) -> None:
        """Stop serving key ``key_id`` from the cache (it was revoked in this process)."""
        self._revoked_ids.add(key_id)

    def put(self, key: str, row: ApiKey) -> None:
        """Remember ``row``, which must be detached from its session (it is shared)."""
        if self._entries is not None:
            self._entries[self._digest(key)] = row


@dataclass
class ServiceState:
    """Everything a request needs, built once by ``create_app`` (nothing at import time)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: TriagePolicy
    scorer: Scorer | None
    scorer_problem: str | None = None
    # Closing a session that still holds a transaction is I/O (a rollback), so it runs in a
    # thread, but from a small pool of its own: if it waited for the request thread pool,
    # requests blocked on a database connection could wait forever for sessions that need a
    # thread to give one back.
    closers: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(4))
    api_keys: ApiKeyCache = field(init=False)
    tiers: TierStatus = field(init=False)  # which scoring tiers the model offers
    # The semantic backlog as the running semantic worker last read it (None: no worker runs).
    backlog: SemanticBacklog | None = None
    # Stored values that failed their integrity check when read (storage.on_integrity_failure);
    # the worker raises an operator alert for each.
    integrity_failures: deque[IntegrityFailure] = field(default_factory=lambda: deque(maxlen=1000))

    def __post_init__(self) -> None:
        self.api_keys = ApiKeyCache(self.settings.api_key_cache_seconds)
        self.tiers = tier_status(self.scorer, self.scorer_problem)

    def refresh_policy(self) -> TriagePolicy:
        """Re-read the runtime overrides an admin saved (dashboard settings) over the
        environment's policy; the worker calls this every round, the admin page after saving."""
        with self.sessions() as session:
            self.policy = effective_policy(session, self.settings.policy())
        return self.policy


# Dependencies that do no I/O are ``async def`` so that FastAPI runs them on the event loop:
# each sync dependency costs a hop to the thread pool.


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for the request; opening one does no I/O."""
    session = state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close, limiter=state.closers)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="a user token from POST /v1/auth/token, or a platform API key (ctk_...)",
)


@dataclass(frozen=True)
class Principal:
    """The caller: a logged-in user, or a platform API key with scopes."""

    user: User | None = None
    api_key: ApiKey | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.user.role) if self.user else None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.api_key.scopes) if self.api_key else ()

    @property
    def name(self) -> str:
        if self.user:
            return self.user.username
        return self.api_key.name if self.api_key else "?"

    def actor(self) -> Actor:
        if self.user is None:
            raise ApiError(403, "this action needs a logged-in user, not an API key")
        return Actor(user_id=self.user.id, role=Role(self.user.role))

    def audit_actor(self) -> AuditActor:
        """The caller as the audit log records it."""
        if self.user is not None:
            return AuditActor.for_user(self.user)
        if self.api_key is not None:
            return AuditActor.for_api_key(self.api_key)
        return AuditActor(kind="anonymous", id=None, name="")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "send Authorization: Bearer <token or API key>", headers=_CHALLENGE)
    return credentials.credentials


def _principal_for(session: Session, token: str) -> Principal:
    if token.startswith(API_KEY_PREFIX):
        key = resolve_api_key(session, token)
        if key is not None:
            # Detached, so that the cache can share it: nothing this session does later (a
            # rollback expires what it holds) can reach it, and it never loads anything.
            session.expunge(key)
            return Principal(api_key=key)
    else:
        user = resolve_token(session, token)
        if user is not None:
            return Principal(user=user)
    raise ApiError(401, "the token or API key is invalid, expired or revoked", headers=_CHALLENGE)


def _check(principal: Principal, role: Role | None, scope: str | None) -> Principal:
    if principal.user is not None:
        if role is not None and Role(principal.user.role).at_least(role):
            return principal
        need = f"the {role} role" if role else "an API key"
        raise ApiError(403, f"this needs {need}")
    if scope is not None and scope in principal.scopes:
        return principal
    need = f"an API key with scope {scope}" if scope else "a logged-in user"
    raise ApiError(403, f"this needs {need}")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def get_principal(
    request: Request, state: StateDep, session: SessionDep, credentials: Credentials
) -> Principal:
    """On the event loop: a cached API key costs no thread hop and no database round trip."""
    token = _token(credentials)
    cached = state.api_keys.get(token)
    if cached is not None:
        principal = Principal(api_key=cached)
    else:
        principal = await anyio.to_thread.run_sync(_principal_for, session, token)
        if principal.api_key is not None:
            state.api_keys.put(token, principal.api_key)
    record_caller(
        request.scope,
        user_id=principal.user.id if principal.user else None,
        api_key=principal.api_key.name if principal.api_key else None,
    )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(
    role: Role | None = None, scope: str | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A guard: users need at least ``role``; API keys need ``scope`` (None: keys refused)."""

    async def guard(principal: PrincipalDep) -> Principal:
        return _check(principal, role, scope)

    return guard


CurrentUser = Annotated[Principal, Depends(require(Role.SPECIALIST))]
SupervisorUser = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
Ingester = Annotated[Principal, Depends(require(scope="messages:write"))]
QueueReader = Annotated[Principal, Depends(require(Role.SPECIALIST, "queue:read"))]
AlertReader = Annotated[Principal, Depends(require(Role.SPECIALIST, "alerts:read"))]
MetricsReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, "metrics:read"))]
