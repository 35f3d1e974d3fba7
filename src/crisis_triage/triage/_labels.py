"""Dispositions as labelled data to retrain on, in the columns of the training tables.

``crisis`` is 1 for confirmed and missed crises, 0 for "not a crisis", and -1 (ambiguous, as in
the data sheet) for "needs follow-up".  The latest risk formulation's level and factors go with
each row (a clinician's risk level is a finer label than yes/no).  The export holds message
text: it is for retraining in the same protected environment, never for logs or reports.
Messages whose text was purged (retention, erasure) or cannot be decrypted have nothing to
learn from and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crisis_triage.storage import WITHHELD_TEXTS, Case, Message, RiskFormulation
from crisis_triage.triage._states import Disposition

LABEL_COLUMNS = (
    "uid",
    "source",
    "text",
    "crisis",
    "crisis_type",
    "label_origin",
    "disposition",
    "model_probability",
    "model_flagged",
    "model_version",
    "sent_at",
    "resolved_at",
    "risk_level",
    "risk_factors",
)
CRISIS_LABEL = {
    Disposition.CONFIRMED_CRISIS.value: 1,
    Disposition.MISSED_CRISIS.value: 1,
    Disposition.NOT_CRISIS.value: 0,
    Disposition.NEEDS_FOLLOW_UP.value: -1,
}


def iter_labels(
    session: Session, *, since: datetime | None = None, chunk_size: int = 1000
) -> Iterator[pd.DataFrame]:
    """Resolved cases as label rows, oldest resolution first, in chunks."""
    stmt = (
        select(Message, Case)
        .join(Case, Case.message_id == Message.id)
        .where(Case.disposition.is_not(None), Message.text_purged_at.is_(None))
        .order_by(Case.resolved_at, Case.id)
        .execution_options(yield_per=chunk_size)
    )
    if since is not None:
        stmt = stmt.where(Case.resolved_at >= since)
    rows: list[dict[str, object]] = []
    for message, case, risk in _with_risk(session, stmt, chunk_size):
        if message.text in WITHHELD_TEXTS:  # undecryptable or failed integrity: never train on it
            continue
        rows.append(
            {
                "uid": f"triage:{message.id}",
                "source": "triage",
                "text": message.text,
                "crisis": CRISIS_LABEL[case.disposition or ""],
                "crisis_type": case.crisis_type or "",
                "label_origin": "clinician_disposition",
                "disposition": case.disposition,
                "model_probability": message.probability,
                "model_flagged": message.flagged,
                "model_version": message.model_version,
                "sent_at": message.sent_at.isoformat(),
                "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
                "risk_level": risk.level if risk else None,
                "risk_factors": ",".join(risk.factors) if risk else None,
            }
        )
        if len(rows) >= chunk_size:
            yield pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
            rows = []
    if rows:
        yield pd.DataFrame(rows, columns=list(LABEL_COLUMNS))


def _with_risk(
    session: Session, stmt: Select[Message, Case], chunk_size: int
) -> Iterator[tuple[Message, Case, RiskFormulation | None]]:
    """Each row with its case's latest risk formulation (level and factors; never the plan)."""
    batch: list[tuple[Message, Case]] = []

    def flush() -> Iterator[tuple[Message, Case, RiskFormulation | None]]:
        latest: dict[int, RiskFormulation] = {}
        for risk in session.scalars(
            select(RiskFormulation)
            .where(RiskFormulation.case_id.in_([case.id for _m, case in batch]))
            .order_by(RiskFormulation.id)
        ):
            latest[risk.case_id] = risk
        for message, case in batch:
            yield message, case, latest.get(case.id)

    for message, case in session.execute(stmt):
        batch.append((message, case))
        if len(batch) >= chunk_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
