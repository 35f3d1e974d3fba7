"""The database schema as SQLAlchemy 2 models; one schema for SQLite and PostgreSQL.

Message text lives only in ``messages.text`` (and notes in ``cases.note`` / ``case_events.note``):
every other table holds ids, hashes, lengths and codes, so alerts, webhooks and metrics can never
carry it.  Those columns, the reasons (which quote the text), the demographics and the replies
are encrypted at rest (``EncryptedText`` / ``EncryptedJSON``, see docs/privacy.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column

from crisis_triage.storage._encrypted import EncryptedJSON, EncryptedText, listen_for_binding
from crisis_triage.storage._types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class User(Base):
    """A person who logs in: specialist, supervisor or admin (argon2 password hash)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Lockout: failed logins counted within a window since the first of them; at the limit the
    # account is locked until ``locked_until`` (see triage.authenticate).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_failed_login_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class AuthToken(Base):
    """A bearer token (or, later, a cookie session) issued at login; only its hash is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """A platform API key with scopes; only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


# Outside the class body, where ``text`` is the message column.
_SEMANTIC_DUE = text("semantic_due_at IS NOT NULL")


class Message(Base):
    """One patient message as received, with its score (or why it has none)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(128), index=True)
    sender: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(EncryptedText("messages.text"))
    text_sha256: Mapped[str] = mapped_column(String(64))
    text_length: Mapped[int] = mapped_column(Integer)
    demographics: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("messages.demographics")
    )
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    score_status: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    threshold: Mapped[float | None] = mapped_column(Float)
    categories: Mapped[list[str]] = mapped_column(default=list)
    reasons: Mapped[list[str]] = mapped_column(
        EncryptedJSON("messages.reasons", unreadable="list"), default=list
    )
    # The same reasons as data (``ReasonItem.to_dict()``: kind, term, category, weight, counts,
    # context, span...), one per line of ``reasons``, for the case page; None: stored before 0014.
    reason_items: Mapped[list[dict[str, Any]] | None] = mapped_column(
        EncryptedJSON("messages.reason_items")
    )
    model_version: Mapped[str | None] = mapped_column(String(64))
    score_error: Mapped[str | None] = mapped_column(String(64))
    # The detected language (ISO 639-1, "und" when undetermined; None: stored before 0006).
    language: Mapped[str | None] = mapped_column(String(8))
    # Patient-level risk: the probability of this message read with the patient's earlier
    # ones, and those that raised it: [{"message_id", "case_id", "drop"}] (ids and numbers only).
    window_probability: Mapped[float | None] = mapped_column(Float)
    window_contributors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # Set when the retention policy or an erasure request removed the text, reasons (both
    # columns) and notes.
    text_purged_at: Mapped[datetime | None]
    # Which tier gave the score shown: "fast" (ingest's synchronous tier, a final score still to
    # come), "final" (both tiers, or a one-tier model); None while the message is unscored.
    score_tier: Mapped[str | None] = mapped_column(String(8))
    final_scored_at: Mapped[datetime | None]
    # The semantic re-scoring worker's bookkeeping: set while a (re)score is due; a leased row
    # has it pushed past the lease.  Cleared when the final score is stored or retries run out.
    semantic_due_at: Mapped[datetime | None]
    semantic_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    semantic_error: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "ix_messages_semantic_due",
            "semantic_due_at",
            sqlite_where=_SEMANTIC_DUE,
            postgresql_where=_SEMANTIC_DUE,
        ),
    )


class Case(Base):
    """The unit of work in the queue: one per message, moved through the case state machine.

    ``tier`` and ``risk`` are the queue order (tier ascending, risk descending, then oldest
    ``sent_at`` first); ``version`` guards every update against a concurrent one.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    tier: Mapped[int] = mapped_column(SmallInteger)
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    sent_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    triaged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposition: Mapped[str | None] = mapped_column(String(32))
    crisis_type: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(EncryptedText("cases.note"))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy convention)
    __table_args__ = (
        Index(
            "ix_cases_open",
            "tier",
            "sent_at",
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_cases_sent_at", "sent_at"),
        Index("ix_cases_resolved_at", "resolved_at"),
    )


class CaseEvent(Base):
    """One timestamped transition of a case: who (a user, or the system), what, when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    disposition: Mapped[str | None] = mapped_column(String(32))
    crisis_type: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(EncryptedText("case_events.note"))


class Alert(Base):
    """Something a person must know at once: a crisis, an escalation, or an operator problem.

    ``payload`` holds ids, codes and scores only, never message text.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    summary: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PagingChannel(Base):
    """Where alerts page on-call staff: a Slack or Teams incoming webhook, a PagerDuty routing
    key, or e-mail recipients, and which alert topics it gets (set by an admin).

    ``target`` (the webhook URL, routing key or addresses) is a secret: encrypted at rest and
    never logged or shown back.  A removed channel keeps its row (its deliveries point at it).
    """

    __tablename__ = "paging_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(EncryptedText("paging_channels.target"))
    topics: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One outbound webhook (an outbox row): retried with backoff, every attempt recorded here.

    A page to a paging channel is a row with ``channel_id`` (its ``url`` only names the channel:
    the real target stays encrypted in ``paging_channels``) and a ``dedup_key``: unique per
    channel, so a case pages each channel once however many workers or retries there are.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("paging_channels.id"))
    dedup_key: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_page", "channel_id", "dedup_key", unique=True),
    )


class PatientReply(Base):
    """An automatic reply with crisis resources sent to the patient (delivered by webhook)."""

    __tablename__ = "patient_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(EncryptedText("patient_replies.text"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log (see ``triage.record_audit``).

    Who (actor kind/id/name), what (action, outcome, ids), when (``at``), from where
    (``origin``); ``details`` holds ids, codes and counts only.  ``entry_hash`` is the HMAC of
    the entry's canonical form including ``prev_hash``, the previous entry's hash, under the key
    ``key_id`` names (``storage.chain_mac``).  The
    application refuses to update or delete these rows, and so do database triggers.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str | None] = mapped_column(String(128))
    case_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None]
    # Unique: two entries can never follow the same one, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key ring's id of the key whose MAC key made ``entry_hash`` (see storage._chain).
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor_kind", "actor_id"),
        Index("ix_audit_log_patient_id", "patient_id"),
    )


class AuditLogIsAppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete an audit entry through the application."""


def _refuse_change(_mapper: Any, _connection: Any, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnlyError(f"audit entry {target.id} cannot be changed or deleted")


def _refuse_bulk_change(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ is AuditEntry:
        raise AuditLogIsAppendOnlyError("audit entries cannot be changed or deleted")


event.listen(AuditEntry, "before_update", _refuse_change)
event.listen(AuditEntry, "before_delete", _refuse_change)
event.listen(Session, "do_orm_execute", _refuse_bulk_change)


class SettingOverride(Base):
    """A runtime override of one service setting, changed by an admin on the dashboard.

    The environment's settings are the defaults; a row here wins over them.  ``value`` is JSON
    (a number, a string or null).
    """

    __tablename__ = "setting_overrides"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DailyMonitoring(Base):
    """One UTC day (of receipt) of the live score stream, for drift and flag-rate monitoring:
    counts, the score histogram, the language mix, the clinician-confirmed PPV and the drift
    statistics against the reference distribution.  Numbers and codes only, never text."""

    __tablename__ = "daily_monitoring"

    day: Mapped[date] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime]
    complete: Mapped[bool] = mapped_column(Boolean)  # the day had ended when computed
    messages: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    unscored: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[int] = mapped_column(Integer)
    # Counts of scores per bin of monitoring.SCORE_BIN_EDGES.
    score_histogram: Mapped[list[int]] = mapped_column(JSON, default=list)
    languages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ppv_resolved: Mapped[int] = mapped_column(Integer)
    ppv_confirmed: Mapped[int] = mapped_column(Integer)
    psi: Mapped[float | None] = mapped_column(Float)
    ks_statistic: Mapped[float | None] = mapped_column(Float)
    ks_pvalue: Mapped[float | None] = mapped_column(Float)
    reference_source: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(64))
    # Set once, when the day's operator alert was raised (never twice for one day).
    drift_alerted_at: Mapped[datetime | None]


class SmsSender(Base):
    """An admin's mapping from an SMS sender's phone number to a patient id.

    The number itself is never stored: ``phone_hash`` is the key ring's HMAC of the number in
    E.164 form (a lookup tries every key of the ring, so a rotation keeps the mapping working
    while the old key stays in the ring).
    """

    __tablename__ = "sms_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


# Encrypted values written through the ORM are bound to their row once it has an id.
for _model in (Message, Case, CaseEvent, PatientReply, PagingChannel):
    listen_for_binding(_model)


class RegisteredModel(Base):
    """A model file in the registry: its id and hash, where it is, its card, and its role.

    One ``champion`` scores the queue; at most one ``challenger`` scores every new message in
    shadow (``shadow_since``) without touching the queue.  ``previous_champion`` is what
    ``rollback`` returns to.  The card is model metadata, never message text.
    """

    __tablename__ = "model_registry"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64), unique=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    card: Mapped[dict[str, Any]] = mapped_column(default=dict)
    role: Mapped[str] = mapped_column(String(16), default="registered")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(100))
    promoted_at: Mapped[datetime | None]
    shadow_since: Mapped[datetime | None]
    previous_champion: Mapped[str | None] = mapped_column(String(64))


class ShadowScore(Base):
    """A challenger's score of one message, kept apart from the queue: ids and numbers only."""

    __tablename__ = "shadow_scores"
    __table_args__ = (
        Index("ix_shadow_scores_model_message", "model_id", "message_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    model_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    threshold: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
