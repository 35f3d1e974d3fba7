"""Request and reply bodies: one family per entity; requests refuse unknown keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from crisis_triage.care import RiskLevel
from crisis_triage.triage import (
    FAST,
    FINAL,
    MAX_SCORED_CHARS,
    CaseStatus,
    Disposition,
    Tier,
    sent_at_in_utc,
    storable_text,
)

CrisisType = Literal["SI", "HI", "NSSI", "DV", "OD"]
PRIORITY_NAMES = {Tier.CRISIS: "crisis", Tier.REVIEW_NOW: "review_now", Tier.ROUTINE: "routine"}
MODEL_VERSION_HELP = (
    "the model that scored the message (name@ the first 12 hex digits of its file's SHA-256), or "
    "that was asked and gave no score; null: no model was loaded"
)
Priority = Literal["crisis", "review_now", "routine"]
ScoreTier = Literal["fast", "final"] | None
FinalScoringOut = Literal["pending", "done", "failed"]


def priority_name(tier: Any) -> Any:
    """A queue tier's priority name (anything else is left for validation to judge)."""
    return PRIORITY_NAMES[tier] if isinstance(tier, Tier) else tier


def score_tier_name(value: str | None) -> ScoreTier:
    """The scoring tier a reply shows: fast (preliminary), final, or None (not tiered)."""
    return "fast" if value == FAST else "final" if value == FINAL else None


Text = Annotated[str, AfterValidator(storable_text)]
SentAt = Annotated[AwareDatetime, AfterValidator(sent_at_in_utc)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Demographics(RequestModel):
    """Optional fields for fairness analysis; free text is not accepted here."""

    age_band: Text | None = Field(default=None, max_length=32, examples=["25-34"])
    sex: Text | None = Field(default=None, max_length=32)
    gender: Text | None = Field(default=None, max_length=64)
    race: Text | None = Field(default=None, max_length=64)
    ethnicity: Text | None = Field(default=None, max_length=64)
    language: Text | None = Field(default=None, max_length=32, examples=["en"])


class MessageIn(RequestModel):
    """One patient message as the platform sends it."""

    idempotency_key: Text = Field(
        min_length=1,
        max_length=200,
        description="unique per message; a retry with the same key stores nothing twice",
    )
    patient_id: Text = Field(min_length=1, max_length=128)
    sender: Text = Field(min_length=1, max_length=64, examples=["patient"])
    sent_at: SentAt = Field(description="when the patient sent it, with a time zone")
    channel: Text = Field(min_length=1, max_length=32, examples=["portal", "sms"])
    text: Text = Field(
        min_length=1,
        description="stored whole, however long (the request size limit applies); the model "
        f"scores the first {MAX_SCORED_CHARS:,} characters and a longer message is queued for "
        "a person",
    )
    demographics: Demographics | None = None


class MessageBatchIn(RequestModel):
    messages: list[MessageIn] = Field(min_length=1)


class MessageResult(BaseModel):
    """What the service made of one message, returned once it is safely stored."""

    id: int = Field(description="the stored message id")
    case_id: int
    duplicate: bool = Field(description="true: this idempotency key was seen before")
    score_status: Literal["scored", "unscored", "unsupported"] = Field(
        description="unsupported: in a language the model does not cover, queued for a person"
    )
    score: float | None = Field(description="crisis probability; null when unscored")
    flagged: bool | None = Field(description="above the threshold; null when unscored")
    threshold: float | None
    categories: list[str]
    reasons: list[str]
    priority: Priority
    model_version: str | None = Field(description=MODEL_VERSION_HELP)
    received_at: datetime
    score_tier: ScoreTier = Field(
        description="fast: a preliminary score, the semantic check is pending; null: unscored"
    )
    language: str | None = Field(
        default=None, description="detected language (ISO 639-1); und: undetermined"
    )
    window_score: float | None = Field(
        default=None,
        description="probability of this message read with the patient's earlier messages",
    )


class MessageBatchResult(BaseModel):
    results: list[MessageResult]


# Read from the domain's QueueItem (QueueItemOut.model_validate(item)); no docstring, so the
# OpenAPI document is what it was.
class QueueItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: int
    message_id: int
    status: CaseStatus
    priority: Annotated[Priority, BeforeValidator(priority_name)] = Field(
        validation_alias=AliasChoices("priority", "tier")
    )
    risk: float
    score: float | None = Field(validation_alias=AliasChoices("score", "probability"))
    flagged: bool | None
    score_status: str
    score_tier: Annotated[ScoreTier, BeforeValidator(score_tier_name)]
    categories: list[str]
    patient_id: str
    channel: str
    sent_at: datetime
    waiting_seconds: float
    claimed_by: int | None
    escalated: bool


class QueueOut(BaseModel):
    items: list[QueueItemOut]
    total: int = Field(description="open cases in the queue (all pages)")
    limit: int
    offset: int


class NoteIn(RequestModel):
    note: Text | None = Field(default=None, max_length=5000)


class RiskFormulationIn(RequestModel):
    """A specialist's risk formulation: level, the checklist's factors weighed, and the plan."""

    level: RiskLevel
    factors: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=30, description="codes from the site's checklist"
    )
    plan: Text | None = Field(default=None, max_length=4000)


class ResolveIn(RequestModel):
    disposition: Disposition
    crisis_types: list[CrisisType] = Field(
        default_factory=list, description="required for confirmed_crisis and missed_crisis"
    )
    note: Text | None = Field(default=None, max_length=5000)
    risk_formulation: RiskFormulationIn | None = Field(
        default=None, description="recorded with the resolution (encrypted, audited)"
    )


class CaseEventOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor_user_id: int | None
    at: datetime
    disposition: str | None
    crisis_type: str | None
    note: str | None


class MessageOut(BaseModel):
    id: int
    patient_id: str
    sender: str
    channel: str
    sent_at: datetime
    received_at: datetime
    text: str
    text_purged_at: datetime | None = None  # set: the text was purged (retention or erasure)
    score_status: str
    score: float | None
    flagged: bool | None
    threshold: float | None
    categories: list[str]
    reasons: list[str]
    model_version: str | None = Field(description=MODEL_VERSION_HELP)
    score_tier: ScoreTier = Field(description="fast: preliminary, the semantic check is pending")
    final_scoring: FinalScoringOut = Field(
        description="failed: the final score could not be computed; the fast-tier score is shown"
    )
    final_scored_at: datetime | None
    demographics: dict[str, Any] | None
    language: str | None = None
    window_score: float | None = Field(
        default=None, description="probability read with the patient's earlier messages"
    )
    window_contributors: list[dict[str, Any]] = Field(
        default_factory=list,
        description="earlier messages that raised it: message_id, case_id, drop",
    )


class CaseOut(BaseModel):
    id: int
    status: CaseStatus
    priority: Priority
    risk: float
    claimed_by: int | None
    claimed_at: datetime | None
    acknowledged_at: datetime | None
    escalated_at: datetime | None
    triaged_at: datetime | None
    resolved_at: datetime | None
    resolved_by: int | None
    disposition: str | None
    crisis_type: str | None
    note: str | None
    message: MessageOut | None = None
    events: list[CaseEventOut] | None = None


class LoginIn(RequestModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_at: datetime
    username: str
    role: str


class PrincipalOut(BaseModel):
    kind: Literal["user", "api_key"]
    name: str
    role: str | None
    scopes: list[str]


class AlertOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    case_id: int | None
    message_id: int | None
    summary: str
    payload: dict[str, Any]


class SemanticTierOut(BaseModel):
    """The scoring tiers: whether the semantic (final) tier runs, and how far behind it is."""

    mode: Literal["two_tier", "semantic_unavailable", "single_tier", "no_model"]
    available: bool = Field(description="false: final scores are fast-tier scores (worse)")
    detail: str
    backlog: int | None = Field(description="messages waiting for a final score or a retry")
    oldest_pending_seconds: float | None = Field(
        description="how long the oldest of them has waited since it arrived"
    )


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
    semantic: SemanticTierOut | None = None
    warnings: list[str] = Field(default_factory=list)
