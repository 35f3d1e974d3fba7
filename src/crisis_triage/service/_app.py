"""The application factory: ``create_app(settings)`` builds everything; importing builds nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import crisis_triage
from crisis_triage.detector import Scorer
from crisis_triage.governance import install_redaction
from crisis_triage.service import (
    _routes_alerts,
    _routes_auth,
    _routes_care,
    _routes_care_templates,
    _routes_cases,
    _routes_fhir,
    _routes_health,
    _routes_messages,
    _routes_metrics,
    _routes_paging,
    _routes_patients,
    _routes_prometheus,
    _routes_risk,
    _routes_sms,
)
from crisis_triage.service._access_log import AccessLogMiddleware
from crisis_triage.service._deps import ServiceState
from crisis_triage.service._errors import install_error_handlers
from crisis_triage.service._ratelimit import SlidingWindowLimiter
from crisis_triage.service._scorer import load_scorer, registered_champion
from crisis_triage.service._security import SecurityMiddleware
from crisis_triage.service._semantic import SemanticWorker
from crisis_triage.service._settings import Settings
from crisis_triage.service._shadow import ShadowWorker
from crisis_triage.service._worker import Worker
from crisis_triage.storage import make_engine, make_session_factory, on_integrity_failure
from crisis_triage.triage import log_tier_status

log = logging.getLogger(__name__)

_FROM_SETTINGS: Any = object()
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
DOCS_ASSETS_PATH = "/docs/assets"

DESCRIPTION = """\
Ingest patient messages, score them for crisis, and keep one queue that puts crises first.
A human reviews every message: when scoring fails a message is still stored and queued as
"unscored: review now".

**Auth**: platform API keys (`Authorization: Bearer ctk_...`, with scopes) send messages;
specialists, supervisors and admins log in at `POST /v1/auth/token` and send the token the
same way.  **Errors** all share one shape: `{"error": {"code", "message", "status", "details",
"request_id"}}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    scorer: Scorer | None = _FROM_SETTINGS,
    webhook_transport: Any = None,
) -> FastAPI:
    """Build the service.

    ``scorer`` overrides the model named in the settings (tests pass a small fake; ``None``
    runs without a model).  ``webhook_transport`` is an httpx transport for outbound webhooks
    (tests pass a mock).
    """
    settings = settings or Settings()
    install_redaction()
    dev_key = settings.dev_key_file()
    if dev_key is not None:  # `serve` says so in capitals; this reaches other ways of starting
        log.warning(
            "NO ENCRYPTION KEY CONFIGURED: message text is encrypted with a development key "
            "at %s; not for real patient data (set CRISIS_TRIAGE_ENCRYPTION_KEY_FILE)",
            dev_key,
        )
    engine = make_engine(
        settings.resolved_database_url(),
        pool_size=settings.db_pool_size,
        pre_ping=settings.db_pool_pre_ping,
        keyring=settings.keyring(),
    )
    problem = None
    if scorer is _FROM_SETTINGS:
        if settings.load_model:
            # The registry's champion, when one is promoted, wins over the configured model.
            scorer, problem = load_scorer(registered_champion(engine) or settings.model_path)
        else:
            scorer, problem = None, "model loading is switched off (CRISIS_TRIAGE_LOAD_MODEL)"
    elif scorer is None:
        problem = "no model was given"
    state = ServiceState(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        policy=settings.policy(),
        scorer=scorer,
        scorer_problem=problem,
    )
    log_tier_status(state.tiers)

    on_integrity_failure(engine, state.integrity_failures.append)
    worker = Worker(state, transport=webhook_transport)
    semantic = SemanticWorker(state)
    shadow = ShadowWorker(state)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await anyio.to_thread.run_sync(state.refresh_policy)
        except Exception as exc:  # an unmigrated database: /readyz says so; keep the defaults
            log.warning("runtime settings not loaded: %s", type(exc).__name__)
        tasks = []
        if settings.worker_enabled:
            tasks.append(asyncio.create_task(worker.run_forever()))
            if settings.semantic_worker_enabled:
                tasks.append(asyncio.create_task(semantic.run_forever()))
            tasks.append(asyncio.create_task(shadow.run_forever()))  # the registry's challenger
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    # Swagger UI and ReDoc come from the fastapi-offline package, never from a CDN: the API docs
    # work on an air-gapped hospital network.
    app = FastAPIOffline(
        title="crisis-triage",
        version=crisis_triage.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=DOCS_PATH,
        redoc_url=REDOC_PATH,
        static_url=DOCS_ASSETS_PATH,
    )
    app.state.service = state
    app.state.worker = worker
    app.state.semantic_worker = semantic
    app.state.shadow_worker = shadow
    app.state.login_limiter = SlidingWindowLimiter(settings.login_attempts_per_minute)
    install_error_handlers(
        app, max_body_bytes=settings.max_body_bytes, max_in_flight=settings.in_flight_limit()
    )
    # Added late, so outer: the guard's own error replies get the headers too.
    docs_paths = [DOCS_PATH, REDOC_PATH, app.swagger_ui_oauth2_redirect_url or ""]
    app.add_middleware(
        SecurityMiddleware, hsts=settings.environment != "development", docs_paths=docs_paths
    )
    app.add_middleware(AccessLogMiddleware)  # outermost: it times and logs every reply
    for module in (
        _routes_health,
        _routes_auth,
        _routes_messages,
        _routes_cases,
        _routes_alerts,
        _routes_metrics,
        _routes_paging,
        _routes_patients,
        _routes_care,
        _routes_risk,
        _routes_care_templates,
        _routes_fhir,
        _routes_sms,
        _routes_prometheus,
    ):
        app.include_router(module.router)
    return app
