"""Caring-contact templates: short messages per language, written for every patient alike;
none is sent until an admin approves it, and a retired one is never sent again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.care._caring_contacts import CARING_LANGUAGES
from crisis_triage.care._common import user_id_of
from crisis_triage.care._errors import CareInputError
from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import CaringContactTemplate, utcnow
from crisis_triage.triage import NotFoundError

MAX_TEMPLATE_LENGTH = 320  # two SMS segments


@dataclass(frozen=True)
class TemplateView:
    id: int
    language: str
    text: str
    created_at: datetime
    approved_at: datetime | None
    approved_by: int | None
    retired_at: datetime | None


def add_template(
    session: Session, language: str, text: str, *, actor: AuditActor, now: datetime | None = None
) -> TemplateView:
    """A new template, waiting for approval; commits (audited ``caring_template.add``)."""
    now = now or utcnow()
    text = " ".join(text.split())
    if language not in CARING_LANGUAGES:
        raise CareInputError(f"language is one of {', '.join(CARING_LANGUAGES)}")
    if not text or len(text) > MAX_TEMPLATE_LENGTH:
        raise CareInputError(f"a template has 1 to {MAX_TEMPLATE_LENGTH} characters")
    row = CaringContactTemplate(
        language=language, text=text, created_at=now, created_by=user_id_of(actor)
    )
    session.add(row)
    session.flush()
    record_audit(
        session, "caring_template.add", actor=actor, details={"template_id": row.id}, at=now
    )
    session.commit()
    return _view(row)


def review_template(
    session: Session,
    template_id: int,
    *,
    approve: bool,
    actor: AuditActor,
    now: datetime | None = None,
) -> TemplateView:
    """Approve a template (it may be sent from now on) or retire it (never again); commits."""
    now = now or utcnow()
    row = session.get(CaringContactTemplate, template_id)
    if row is None:
        raise NotFoundError(f"template {template_id} does not exist")
    if approve:
        row.approved_at, row.approved_by, row.retired_at = now, user_id_of(actor), None
    else:
        row.retired_at = now
    session.flush()
    action = "caring_template.approve" if approve else "caring_template.retire"
    record_audit(session, action, actor=actor, details={"template_id": row.id}, at=now)
    session.commit()
    return _view(row)


def list_templates(session: Session) -> list[TemplateView]:
    rows = session.scalars(select(CaringContactTemplate).order_by(CaringContactTemplate.id))
    return [_view(r) for r in rows]


def _view(row: CaringContactTemplate) -> TemplateView:
    return TemplateView(
        id=row.id,
        language=row.language,
        text=row.text,
        created_at=row.created_at,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        retired_at=row.retired_at,
    )
