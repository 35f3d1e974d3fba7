"""Registering models, and the champion/challenger roles: promotion and rollback need an admin
and are audited, as is every change of role.

Roles: ``champion`` (scores the queue; one at most), ``challenger`` (scores every new message in
shadow; one at most), ``registered`` and ``retired``.  A model file is verified when registered
and again whenever it is loaded: ``load_model`` checks its SHA-256 against its card, and the
registry checks that hash against the one it recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.accounts import authenticate
from crisis_triage.detector import Scorer, load_model, read_card
from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import RegisteredModel, User, utcnow
from crisis_triage.triage import (
    NotFoundError,
    PermissionDeniedError,
    Role,
    TriageError,
    model_version,
)

CHAMPION = "champion"
CHALLENGER = "challenger"
REGISTERED = "registered"
RETIRED = "retired"
ROLES = (CHAMPION, CHALLENGER, REGISTERED, RETIRED)
# Card fields shown in listings and kept in the registry (the whole card stays next to the file).
CARD_SUMMARY_KEYS = ("model_id", "file_sha256", "created", "threshold", "metrics", "versions")


class RegistryError(TriageError):
    """A registry operation that cannot be done as asked; the text says why."""

    code = "registry_error"


@dataclass(frozen=True)
class ModelEntry:
    """One registered model as shown to people: ids, hash, role and dates, never text."""

    model_id: str
    file_sha256: str
    path: str
    role: str
    registered_at: datetime
    registered_by: str
    promoted_at: datetime | None
    shadow_since: datetime | None
    previous_champion: str | None
    threshold: float | None

    @classmethod
    def of(cls, row: RegisteredModel) -> ModelEntry:
        threshold = row.card.get("threshold")
        return cls(
            row.model_id,
            row.file_sha256,
            row.path,
            row.role,
            row.registered_at,
            row.registered_by,
            row.promoted_at,
            row.shadow_since,
            row.previous_champion,
            float(threshold) if isinstance(threshold, int | float) else None,
        )


def require_admin(session: Session, username: str, password: str, action: str) -> User:
    """The active admin with these credentials (the login itself is audited, and counts towards
    the lockout); a refusal is audited under ``action`` and raised."""
    user = authenticate(session, username.strip(), password)
    if user is None or user.role != Role.ADMIN.value:
        who = AuditActor.for_user(user) if user else AuditActor.cli(f"cli:{username.strip()[:60]}")
        record_audit(
            session, action, actor=who, outcome="denied", details={"reason": "needs an admin"}
        )
        session.commit()
        raise PermissionDeniedError(f"{action} needs an admin's username and password")
    return user


def register_model(session: Session, path: Path, *, actor: AuditActor) -> ModelEntry:
    """Verify the model file at ``path`` (hash against its card, allowed types) and record it
    with its card; commits.  Registering the same file twice is refused."""
    path = path.resolve()
    model = load_model(path)  # verifies the file against its card
    card: dict[str, Any] = read_card(path)
    model_id = model_version(model)
    sha = str(card.get("file_sha256") or "")
    if session.scalar(select(RegisteredModel).where(RegisteredModel.model_id == model_id)):
        raise RegistryError(f"{model_id} is registered already")
    card["threshold"] = float(model.threshold_)
    row = RegisteredModel(
        model_id=model_id,
        file_sha256=sha,
        path=str(path),
        card={key: card[key] for key in CARD_SUMMARY_KEYS if key in card},
        role=REGISTERED,
        registered_at=utcnow(),
        registered_by=actor.name[:100],
    )
    session.add(row)
    session.flush()
    record_audit(
        session, "model.register", actor=actor, details={"model_id": model_id, "sha256": sha[:16]}
    )
    session.commit()
    return ModelEntry.of(row)


def list_models(session: Session) -> list[ModelEntry]:
    rows = session.scalars(select(RegisteredModel).order_by(RegisteredModel.registered_at))
    return [ModelEntry.of(row) for row in rows]


def _get(session: Session, model_id: str) -> RegisteredModel:
    row = session.scalar(select(RegisteredModel).where(RegisteredModel.model_id == model_id))
    if row is None:
        raise NotFoundError(f"no registered model {model_id!r} (see `crisis-triage models list`)")
    return row


def _in_role(session: Session, role: str) -> RegisteredModel | None:
    return session.scalar(select(RegisteredModel).where(RegisteredModel.role == role))


def champion(session: Session) -> ModelEntry | None:
    row = _in_role(session, CHAMPION)
    return ModelEntry.of(row) if row else None


def challenger(session: Session) -> ModelEntry | None:
    row = _in_role(session, CHALLENGER)
    return ModelEntry.of(row) if row else None


def load_registered(entry: ModelEntry) -> Scorer:
    """The model file of ``entry``, verified (``load_model``) and matching the recorded hash."""
    model = load_model(Path(entry.path))  # the file matches its card...
    if read_card(entry.path).get("file_sha256") != entry.file_sha256:  # ...and the card ours
        raise RegistryError(f"{entry.model_id}: the file at {entry.path} is not the one registered")
    return model


def promote(session: Session, model_id: str, *, admin: User) -> ModelEntry:
    """Make ``model_id`` the champion (the old champion is retired and remembered for
    rollback); audited; commits.  The model file is verified first."""
    row = _get(session, model_id)
    if row.role == CHAMPION:
        raise RegistryError(f"{model_id} is the champion already")
    load_registered(ModelEntry.of(row))
    old = _in_role(session, CHAMPION)
    now = utcnow()
    if old is not None:
        old.role = RETIRED
    row.previous_champion = old.model_id if old else None
    row.role, row.promoted_at, row.shadow_since = CHAMPION, now, None
    session.flush()
    record_audit(
        session,
        "model.promote",
        actor=AuditActor.for_user(admin),
        details={"model_id": model_id, "previous": row.previous_champion or "none"},
        at=now,
    )
    session.commit()
    return ModelEntry.of(row)


def rollback(session: Session, *, admin: User) -> ModelEntry:
    """Give the champion role back to the model the current champion replaced; audited;
    commits.  The current champion is retired."""
    current = _in_role(session, CHAMPION)
    if current is None or current.previous_champion is None:
        raise RegistryError("nothing to roll back to: the champion replaced no earlier model")
    target = _get(session, current.previous_champion)
    load_registered(ModelEntry.of(target))
    now = utcnow()
    current.role = RETIRED
    if target.role == CHALLENGER:
        target.shadow_since = None
    target.role, target.promoted_at = CHAMPION, now
    session.flush()
    record_audit(
        session,
        "model.rollback",
        actor=AuditActor.for_user(admin),
        details={"model_id": target.model_id, "from": current.model_id},
        at=now,
    )
    session.commit()
    return ModelEntry.of(target)


def start_shadow(session: Session, model_id: str, *, admin: User) -> ModelEntry:
    """Make ``model_id`` the challenger, scoring every message received from now on in shadow
    (an earlier challenger goes back to ``registered``); audited; commits."""
    row = _get(session, model_id)
    if row.role == CHAMPION:
        raise RegistryError(f"{model_id} is the champion; shadow another model")
    load_registered(ModelEntry.of(row))
    old = _in_role(session, CHALLENGER)
    if old is not None and old.id != row.id:
        old.role, old.shadow_since = REGISTERED, None
    now = utcnow()
    row.role, row.shadow_since = CHALLENGER, now
    session.flush()
    record_audit(
        session,
        "model.shadow_start",
        actor=AuditActor.for_user(admin),
        details={"model_id": model_id},
        at=now,
    )
    session.commit()
    return ModelEntry.of(row)


def stop_shadow(session: Session, *, admin: User) -> ModelEntry:
    """The challenger stops scoring (its shadow scores are kept); audited; commits."""
    row = _in_role(session, CHALLENGER)
    if row is None:
        raise RegistryError("no model is in shadow")
    row.role, row.shadow_since = REGISTERED, None
    session.flush()
    record_audit(
        session,
        "model.shadow_stop",
        actor=AuditActor.for_user(admin),
        details={"model_id": row.model_id},
    )
    session.commit()
    return ModelEntry.of(row)
