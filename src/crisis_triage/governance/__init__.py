"""Governance, no HTTP: the keyed audit chain (recording, checkpoints, queries, verification)
and the redaction that keeps message text out of logs.

Every domain records its audit events through ``record_audit``; it sits below the queue.
"""

from crisis_triage.governance._audit import (
    ANONYMOUS,
    MAX_DETAIL_LENGTH,
    AuditActor,
    AuditValue,
    audit_origin,
    hash_entry,
    record_audit,
)
from crisis_triage.governance._audit_checkpoint import (
    append_checkpoint,
    check_checkpoints,
    make_checkpoint,
    publish_checkpoint,
    read_checkpoints,
)
from crisis_triage.governance._audit_query import (
    EXPORT_FIELDS,
    AuditFilter,
    ChainReport,
    audit_entries,
    entry_record,
    verify_chain,
)
from crisis_triage.governance._redaction import (
    REDACTED,
    RedactingFilter,
    install_redaction,
    redact,
    sensitive,
)
from crisis_triage.storage import GENESIS_HASH

__all__ = [
    "ANONYMOUS",
    "EXPORT_FIELDS",
    "GENESIS_HASH",
    "MAX_DETAIL_LENGTH",
    "REDACTED",
    "AuditActor",
    "AuditFilter",
    "AuditValue",
    "ChainReport",
    "RedactingFilter",
    "append_checkpoint",
    "audit_entries",
    "audit_origin",
    "check_checkpoints",
    "entry_record",
    "hash_entry",
    "install_redaction",
    "make_checkpoint",
    "publish_checkpoint",
    "read_checkpoints",
    "record_audit",
    "redact",
    "sensitive",
    "verify_chain",
]
