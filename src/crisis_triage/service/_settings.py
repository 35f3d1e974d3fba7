"""Service settings from the environment (``CRISIS_TRIAGE_*``), validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from crisis_triage.integrations.paging import PAGERDUTY_EVENTS_URL, PagingConfig, SmtpConfig
from crisis_triage.monitoring import DriftBounds, MonitoringPolicy
from crisis_triage.storage import (
    EncryptionError,
    KeyRing,
    default_database_url,
    dev_key_path,
    load_keyring,
)
from crisis_triage.triage import (
    SettingError,
    TriagePolicy,
    check_timezone,
    parse_codes,
    parse_follow_up_schedule,
)

# Placeholders that are fine on a laptop and refused anywhere else.
DEFAULT_SECRET_KEY = "dev-secret-key-change-me"  # noqa: S105
DEFAULT_WEBHOOK_SECRET = "dev-webhook-secret-change-me"  # noqa: S105


class Settings(BaseSettings):
    """Every knob of the service; each can be set as ``CRISIS_TRIAGE_<NAME>``.

    Outside ``environment=development`` the service refuses to start with a placeholder secret.
    """

    model_config = SettingsConfigDict(
        env_prefix="CRISIS_TRIAGE_", extra="ignore", populate_by_name=True
    )

    # CRISIS_TRIAGE_ENV too: a production that spells it so must not run as development.
    environment: Literal["development", "production"] = Field(
        default="development",
        validation_alias=AliasChoices("CRISIS_TRIAGE_ENVIRONMENT", "CRISIS_TRIAGE_ENV"),
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the user data dir"
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_pre_ping: bool = Field(
        default=False, description="test pooled connections before use (one more round trip)"
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    model_path: Path | None = Field(
        default=None, description="a model file; default: the detector's bundled model"
    )
    load_model: bool = Field(default=True, description="false: run without a model (unscored)")
    escalation_minutes: float = Field(default=15.0, gt=0)
    auto_reply_text: str | None = Field(
        default=None,
        description="sent to the patient when a message is flagged (e.g. the 988 line); "
        "unset: no automatic reply",
    )
    patient_window_hours: float = Field(
        default=72.0,
        ge=0,
        le=24 * 90,
        description="a new message is also scored with the patient's earlier messages sent "
        "this many hours before it (0: off)",
    )
    patient_window_messages: int = Field(
        default=10, ge=1, le=10, description="at most this many earlier messages (the latest)"
    )
    follow_up_schedule: str = Field(
        default="24h,72h,7d,30d",
        description="follow-ups scheduled when a crisis is resolved (h: hours; d: days at the "
        "same local time in SITE_TIMEZONE)",
    )
    site_timezone: str = Field(default="UTC", description="IANA time zone of the site")
    risk_factors: str = Field(
        default=",".join(TriagePolicy().risk_factors),
        description="the checklist of a risk formulation (codes separated by commas)",
    )
    webhook_urls: list[str] = Field(default_factory=list)
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="the Twilio account's auth token: POST /v1/channels/sms/twilio checks "
        "X-Twilio-Signature with it; unset: that webhook answers 503 and stores nothing",
    )
    twilio_webhook_url: str | None = Field(
        default=None,
        description="the public URL Twilio posts to, as configured in Twilio (the signature "
        "covers it); unset: the URL of the request as received",
    )
    webhook_secret: SecretStr = SecretStr(DEFAULT_WEBHOOK_SECRET)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=5.0, ge=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    worker_enabled: bool = True
    worker_interval_seconds: float = Field(default=1.0, gt=0)
    sse_poll_seconds: float = Field(default=1.0, gt=0)
    semantic_worker_enabled: bool = Field(
        default=True,
        description="re-score fast-tier (and unscored) messages in the background (needs "
        "WORKER_ENABLED); off: fast scores stay preliminary until a process with it on runs",
    )
    semantic_batch_size: int = Field(default=32, ge=1, le=1000)
    semantic_poll_seconds: float = Field(
        default=0.25, gt=0, description="wait between rounds when nothing was due"
    )
    semantic_lease_seconds: float = Field(
        default=120.0, gt=0, description="a batch not stored within this is re-scored again"
    )
    semantic_max_attempts: int = Field(default=5, ge=1, le=50)
    semantic_backoff_seconds: float = Field(default=2.0, ge=0)
    semantic_backoff_max_seconds: float = Field(default=300.0, ge=0)
    token_ttl_minutes: int = Field(default=720, ge=1)
    login_attempts_per_minute: int = Field(
        default=20, ge=1, description="login attempts per client address per minute (429 past)"
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line (for log shippers)"
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="a dashboard login ends after this long without use"
    )
    api_key_cache_seconds: float = Field(
        default=10.0, ge=0, description="a revoked API key may keep working this long; 0: no cache"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_batch_size: int = Field(default=500, ge=1)
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="id:base64key,... (first one encrypts, all decrypt); "
        "`crisis-triage keys generate` prints a key",
    )
    encryption_key_file: Path | None = Field(
        default=None, description="a file with one id:base64key per line (first one encrypts)"
    )
    retention_text_days: int | None = Field(
        default=None,
        ge=1,
        description="purge message text and notes this many days after a case is resolved "
        "(`crisis-triage retention run`); unset: keep them",
    )
    retention_crisis_text_days: int | None = Field(
        default=None,
        ge=1,
        description="the same for cases resolved as a confirmed or missed crisis (clinical "
        "records may need longer); unset: RETENTION_TEXT_DAYS",
    )
    audit_checkpoint_minutes: float | None = Field(
        default=None,
        gt=0,
        description="the worker writes a signed checkpoint of the audit log's head this often, "
        "to AUDIT_CHECKPOINT_FILE and as an audit.checkpoint webhook; unset: never",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="a file (kept where the database's administrators cannot write) that "
        "checkpoints are appended to; `crisis-triage audit verify --checkpoints` reads it",
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="requests at once per process before answering 503; default: the "
        "database connections per process (2 x db_pool_size), so that a request never "
        "waits for a connection held by another that waits for a thread",
    )

    monitoring_interval_minutes: float | None = Field(
        default=60.0,
        gt=0,
        description="the worker recomputes the daily monitoring aggregates (flag rate, score "
        "distribution, drift) this often; unset: never",
    )
    drift_psi_bound: float = Field(
        default=0.25, gt=0, description="a day's scores shifted: PSI against the reference above"
    )
    drift_ks_bound: float = Field(
        default=0.2, gt=0, le=1, description="... or Kolmogorov-Smirnov statistic above"
    )
    drift_flag_rate_ratio: float = Field(
        default=2.0, gt=1, description="... or flag rate above/below the reference's by this factor"
    )
    drift_min_messages: int = Field(
        default=200, ge=1, description="days with fewer scored messages are not judged"
    )
    drift_baseline_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="without a reference in the model card, the first this many days stored "
        "are the reference",
    )

    dashboard_url: str = Field(
        default="",
        description="the dashboard's address as on-call staff reach it (https://triage.example"
        ".org); pages link to /cases/<id> under it; unset: pages carry no link",
    )
    pagerduty_events_url: str = Field(
        default=PAGERDUTY_EVENTS_URL, description="the PagerDuty Events API v2 endpoint"
    )
    smtp_host: str | None = Field(default=None, description="unset: e-mail channels fail")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "crisis-triage@localhost"

    @field_validator("webhook_urls", "twilio_webhook_url")
    @classmethod
    def _http_urls(cls, urls: list[str] | str | None) -> list[str] | str | None:
        for url in [urls] if isinstance(urls, str) else urls or []:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook URL must start with http:// or https://: {url!r}")
        return urls

    @field_validator("follow_up_schedule", "risk_factors", "site_timezone")
    @classmethod
    def _care_setting(cls, raw: str, info: ValidationInfo) -> str:
        """Checked as an admin's runtime value is (triage's parsers), stored normalised."""
        try:
            if info.field_name == "site_timezone":
                return check_timezone(raw)
            parse = parse_codes if info.field_name == "risk_factors" else parse_follow_up_schedule
            return ",".join(parse(raw))
        except SettingError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
            raise ValueError("set CRISIS_TRIAGE_SECRET_KEY: the placeholder is for development")
        if self.webhook_urls and self.webhook_secret.get_secret_value() == DEFAULT_WEBHOOK_SECRET:
            raise ValueError("set CRISIS_TRIAGE_WEBHOOK_SECRET: the placeholder is for development")
        if self.encryption_keys is None and self.encryption_key_file is None:
            raise ValueError(
                "set CRISIS_TRIAGE_ENCRYPTION_KEYS or CRISIS_TRIAGE_ENCRYPTION_KEY_FILE: "
                "message text is encrypted at rest (`crisis-triage keys generate`)"
            )
        return self

    @model_validator(mode="after")
    def _readable_keys(self) -> Settings:
        if self.encryption_keys is not None or self.encryption_key_file is not None:
            try:
                self.keyring()
            except EncryptionError as exc:
                raise ValueError(str(exc)) from None
        return self

    def keyring(self) -> KeyRing:
        """The encryption keys (in development without any: a generated dev key file)."""
        keys = self.encryption_keys.get_secret_value() if self.encryption_keys else None
        return load_keyring(
            self.resolved_database_url(),
            keys=keys,
            key_file=self.encryption_key_file,
            allow_dev_key=self.environment == "development",
        )

    def dev_key_file(self) -> Path | None:
        """The generated development key file in use, or None when keys are configured."""
        if self.encryption_keys is not None or self.encryption_key_file is not None:
            return None
        return dev_key_path(self.resolved_database_url())

    def in_flight_limit(self) -> int:
        return self.max_in_flight or 2 * self.db_pool_size

    def resolved_database_url(self) -> str:
        return self.database_url or default_database_url()

    def monitoring_policy(self) -> MonitoringPolicy:
        return MonitoringPolicy(
            bounds=DriftBounds(
                psi=self.drift_psi_bound,
                ks_statistic=self.drift_ks_bound,
                flag_rate_ratio=self.drift_flag_rate_ratio,
                min_messages=self.drift_min_messages,
            ),
            baseline_days=self.drift_baseline_days,
        )

    def paging(self) -> PagingConfig:
        smtp = None
        if self.smtp_host:
            smtp = SmtpConfig(
                host=self.smtp_host,
                port=self.smtp_port,
                security=self.smtp_security,
                username=self.smtp_username,
                password=self.smtp_password.get_secret_value() if self.smtp_password else None,
                sender=self.smtp_from,
                timeout_seconds=self.webhook_timeout_seconds,
            )
        return PagingConfig(
            dashboard_url=self.dashboard_url,
            pagerduty_events_url=self.pagerduty_events_url,
            smtp=smtp,
        )

    def policy(self) -> TriagePolicy:
        return TriagePolicy(
            escalation_minutes=self.escalation_minutes,
            auto_reply_text=self.auto_reply_text or None,
            webhook_urls=tuple(self.webhook_urls),
            webhook_max_attempts=self.webhook_max_attempts,
            webhook_backoff_seconds=self.webhook_backoff_seconds,
            webhook_backoff_max_seconds=self.webhook_backoff_max_seconds,
            semantic_max_attempts=self.semantic_max_attempts,
            semantic_backoff_seconds=self.semantic_backoff_seconds,
            semantic_backoff_max_seconds=self.semantic_backoff_max_seconds,
            patient_window_hours=self.patient_window_hours,
            patient_window_messages=self.patient_window_messages,
            follow_up_schedule=parse_follow_up_schedule(self.follow_up_schedule),
            site_timezone=check_timezone(self.site_timezone),
            risk_factors=parse_codes(self.risk_factors),
        )
