"""The database: SQLAlchemy models, engines and sessions, and the packaged Alembic migrations.

The same schema runs on SQLite (the default, a file in the user's data directory) and
PostgreSQL (``postgresql://...``); ``upgrade(engine)`` migrates either to the packaged head.
"""

from crisis_triage.storage._engine import (
    MIGRATIONS_DIR,
    DatabaseError,
    check_database,
    current_revision,
    default_database_url,
    downgrade,
    head_revision,
    lock_for_write,
    make_engine,
    make_session_factory,
    normalise_url,
    upgrade,
)
from crisis_triage.storage._models import (
    Alert,
    ApiKey,
    AuditEntry,
    AuditLogIsAppendOnlyError,
    AuthToken,
    Base,
    Case,
    CaseEvent,
    Message,
    PatientReply,
    User,
    WebhookDelivery,
)
from crisis_triage.storage._types import UTCDateTime, utcnow

__all__ = [
    "MIGRATIONS_DIR",
    "Alert",
    "ApiKey",
    "AuditEntry",
    "AuditLogIsAppendOnlyError",
    "AuthToken",
    "Base",
    "Case",
    "CaseEvent",
    "DatabaseError",
    "Message",
    "PatientReply",
    "UTCDateTime",
    "User",
    "WebhookDelivery",
    "check_database",
    "current_revision",
    "default_database_url",
    "downgrade",
    "head_revision",
    "lock_for_write",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "upgrade",
    "utcnow",
]
