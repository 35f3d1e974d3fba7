"""Accounts, no HTTP: users, passwords and lockout, login tokens, dashboard sessions, API keys.

Every login, logout and change is audited.  The service and the dashboard authenticate through
this face; the queue (``triage``) does not depend on it.
"""

from crisis_triage.accounts._admin import (
    FIRST_ADMIN_COMMAND,
    UserRow,
    find_user,
    has_users,
    list_api_keys,
    list_users,
    update_user,
    usernames,
)
from crisis_triage.accounts._credentials import (
    API_KEY_PREFIX,
    DEFAULT_SCOPES,
    LOCKOUT_MINUTES,
    LOCKOUT_THRESHOLD,
    MIN_PASSWORD_LENGTH,
    SCOPES,
    TOKEN_PREFIX,
    authenticate,
    create_api_key,
    create_user,
    issue_token,
    reset_password,
    resolve_api_key,
    resolve_token,
    revoke_api_key,
    revoke_token,
)
from crisis_triage.accounts._errors import AccountError
from crisis_triage.accounts._sessions import SESSION_KIND, start_session, use_session

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_SCOPES",
    "FIRST_ADMIN_COMMAND",
    "LOCKOUT_MINUTES",
    "LOCKOUT_THRESHOLD",
    "MIN_PASSWORD_LENGTH",
    "SCOPES",
    "SESSION_KIND",
    "TOKEN_PREFIX",
    "AccountError",
    "UserRow",
    "authenticate",
    "create_api_key",
    "create_user",
    "find_user",
    "has_users",
    "issue_token",
    "list_api_keys",
    "list_users",
    "reset_password",
    "resolve_api_key",
    "resolve_token",
    "revoke_api_key",
    "revoke_token",
    "start_session",
    "update_user",
    "use_session",
    "usernames",
]
