"""Helpers for the encryption, retention and patient-request tests: keys, messages, cases."""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime, timedelta

from service_fakes import FakeScorer
from service_helpers import Factory
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from crisis_triage.detector import Scorer
from crisis_triage.storage import KeyRing, generate_key_line, make_engine
from crisis_triage.triage import (
    Action,
    Actor,
    Disposition,
    IncomingMessage,
    Role,
    TriagePolicy,
    apply_action,
    ingest,
)

POLICY = TriagePolicy(auto_reply_text="If you are in danger call 988", webhook_urls=("http://h",))


@functools.cache
def key_line(key_id: str) -> str:
    """One key per id for the whole run, so that ``keys("new", "old")`` can read ``keys("old")``."""
    return generate_key_line(key_id)


def keys(*ids: str) -> KeyRing:
    return KeyRing.parse(",".join(key_line(key_id) for key_id in ids))


def engine_with(url: str, *ids: str) -> Engine:
    return make_engine(url, keyring=keys(*ids))


def secret_text(label: str = "msg") -> str:
    """A text no other row holds, to search raw bytes for."""
    return f"I want to end it {label}-{secrets.token_hex(6)}"


def send(
    session: Session,
    texts: list[str],
    *,
    patient_id: str = "patient-1",
    sent_at: datetime | None = None,
    scorer: Scorer | None = None,
) -> list[int]:
    """Ingest ``texts`` (flagged if they say "end it", unless ``scorer`` says otherwise);
    returns their case ids."""
    sent = sent_at or datetime.now(UTC) - timedelta(minutes=5)
    items = [
        IncomingMessage(
            idempotency_key=f"{patient_id}-{secrets.token_hex(6)}",
            patient_id=patient_id,
            sender="patient",
            channel="portal",
            sent_at=sent,
            text=body,
            demographics={"age_band": "25-34"},
        )
        for body in texts
    ]
    return [r.case_id for r in ingest(session, scorer or FakeScorer(), items, POLICY)]


def specialist(session: Session) -> Actor:
    user_id, _token = Factory(session).user(Role.SPECIALIST, name=f"spec-{secrets.token_hex(4)}")
    return Actor(user_id=user_id, role=Role.SPECIALIST)


def work(
    session: Session,
    case_id: int,
    actor: Actor,
    note: str,
    *,
    resolve: bool = True,
    disposition: Disposition = Disposition.NEEDS_FOLLOW_UP,
    now: datetime | None = None,
) -> None:
    """Claim and acknowledge with ``note``; resolve with it too if ``resolve``."""
    apply_action(session, case_id, Action.CLAIM, actor, now=now)
    apply_action(session, case_id, Action.ACKNOWLEDGE, actor, note=note, now=now)
    if resolve:
        apply_action(
            session,
            case_id,
            Action.RESOLVE,
            actor,
            note=note,
            disposition=disposition,
            crisis_types=("SI",) if disposition is Disposition.CONFIRMED_CRISIS else (),
            now=now,
        )
    session.commit()


def raw_values(engine: Engine, table: str, column: str) -> list[str]:
    """The stored text of a column, past the column type."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT CAST({column} AS TEXT) FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608
        )
        return [row[0] for row in rows]
