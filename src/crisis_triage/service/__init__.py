"""The JSON API: ``create_app(settings)`` builds a FastAPI app; nothing is built at import."""

from crisis_triage.service._access_log import ACCESS_LOGGER, record_caller
from crisis_triage.service._app import create_app
from crisis_triage.service._deps import ServiceState, SessionDep, StateDep
from crisis_triage.service._errors import ApiError, ErrorBody, ErrorDetail, ErrorInfo
from crisis_triage.service._logging import logging_config
from crisis_triage.service._ratelimit import SlidingWindowLimiter, login_limiter
from crisis_triage.service._security import CONTENT_SECURITY_POLICY
from crisis_triage.service._settings import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, Settings

__all__ = [
    "ACCESS_LOGGER",
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "ErrorInfo",
    "ServiceState",
    "SessionDep",
    "Settings",
    "SlidingWindowLimiter",
    "StateDep",
    "create_app",
    "logging_config",
    "login_limiter",
    "record_caller",
]
