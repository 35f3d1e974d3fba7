"""The database: SQLAlchemy models, engines and sessions, and the packaged Alembic migrations.

Message text, notes and reasons are encrypted at rest with a ``KeyRing`` attached to each
engine (``make_engine(url, keyring=...)``); ``rotate_keys`` moves stored values to a new key.
The same schema runs on SQLite (the default, a file in the user's data directory) and
PostgreSQL (``postgresql://...``); ``upgrade(engine)`` migrates either to the packaged head.
``backup_sqlite`` / ``restore_sqlite`` copy a SQLite database; ``check_keys`` says whether the
configured keys open what is stored.
"""

from crisis_triage.storage._backup import (
    BackupError,
    KeyCheck,
    KeysRefusedError,
    backup_sqlite,
    check_keys,
    restore_sqlite,
    sqlite_path,
)
from crisis_triage.storage._chain import (
    CHAIN_FORMAT_VERSION,
    GENESIS_HASH,
    Checkpoint,
    canonical_form,
    chain_mac,
)
from crisis_triage.storage._crypto import (
    CiphertextIntegrityError,
    DecryptionError,
    EncryptionError,
    KeyRing,
    generate_key_line,
)
from crisis_triage.storage._encrypted import (
    INTEGRITY_ERROR_TEXT,
    UNREADABLE_TEXT,
    WITHHELD_TEXTS,
    IntegrityFailure,
    RowBound,
    bind_rows,
    engine_keyring,
    on_integrity_failure,
)
from crisis_triage.storage._engine import (
    MIGRATIONS_DIR,
    DatabaseError,
    check_database,
    current_revision,
    default_database_url,
    downgrade,
    head_revision,
    is_embedded,
    lock_for_write,
    make_engine,
    make_session_factory,
    normalise_url,
    prepare_database,
    release_old_pages,
    upgrade,
)
from crisis_triage.storage._keys import dev_key_path, load_keyring
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
    PagingChannel,
    PatientReply,
    SettingOverride,
    User,
    WebhookDelivery,
)
from crisis_triage.storage._rotation import ColumnCounts, RotationReport, rotate_keys
from crisis_triage.storage._types import UTCDateTime, utcnow

__all__ = [
    "CHAIN_FORMAT_VERSION",
    "GENESIS_HASH",
    "INTEGRITY_ERROR_TEXT",
    "MIGRATIONS_DIR",
    "UNREADABLE_TEXT",
    "WITHHELD_TEXTS",
    "Alert",
    "ApiKey",
    "AuditEntry",
    "AuditLogIsAppendOnlyError",
    "AuthToken",
    "BackupError",
    "Base",
    "Case",
    "CaseEvent",
    "Checkpoint",
    "CiphertextIntegrityError",
    "ColumnCounts",
    "DatabaseError",
    "DecryptionError",
    "EncryptionError",
    "IntegrityFailure",
    "KeyCheck",
    "KeyRing",
    "KeysRefusedError",
    "Message",
    "PagingChannel",
    "PatientReply",
    "RotationReport",
    "RowBound",
    "SettingOverride",
    "UTCDateTime",
    "User",
    "WebhookDelivery",
    "backup_sqlite",
    "bind_rows",
    "canonical_form",
    "chain_mac",
    "check_database",
    "check_keys",
    "current_revision",
    "default_database_url",
    "dev_key_path",
    "downgrade",
    "engine_keyring",
    "generate_key_line",
    "head_revision",
    "is_embedded",
    "load_keyring",
    "lock_for_write",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "on_integrity_failure",
    "prepare_database",
    "release_old_pages",
    "restore_sqlite",
    "rotate_keys",
    "sqlite_path",
    "upgrade",
    "utcnow",
]
