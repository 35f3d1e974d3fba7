"""The model registry: register with card and hash, promote and roll back (an admin, audited),
a challenger in shadow that scores every message without touching the queue (and whose failure
never reaches ingest), and champion vs challenger on resolved messages and on a labelled file.
SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from privacy_helpers import specialist
from service_helpers import PASSWORD, Factory, settings_for
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session
from synthetic_messages import corpus, fast_detector

from crisis_triage.detector import save_model
from crisis_triage.evaluation import ReportConfig, TableSpec
from crisis_triage.governance import AuditActor
from crisis_triage.registry import (
    CHAMPION,
    RETIRED,
    RegistryError,
    champion,
    compare_on_file,
    compare_resolved,
    list_models,
    promote,
    register_model,
    require_admin,
    rollback,
    shadow_score_pending,
    start_shadow,
)
from crisis_triage.service import create_app
from crisis_triage.service._shadow import ShadowWorker
from crisis_triage.storage import AuditEntry, Case, Message, ShadowScore
from crisis_triage.triage import (
    Action,
    Disposition,
    IncomingMessage,
    PermissionDeniedError,
    Role,
    TriagePolicy,
    apply_action,
    ingest,
)

SECRET = "my secret crisis words about the bridge"


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different fitted models: the champion-to-be and the challenger."""
    folder = tmp_path_factory.mktemp("models")
    texts, labels, types = corpus()
    first = fast_detector().fit(texts, labels, crisis_types=types)
    other_texts, other_labels, other_types = corpus(seed=3)
    second = fast_detector().fit(other_texts, other_labels, crisis_types=other_types)
    return {
        "a": save_model(first, folder / "site-a.skops"),
        "b": save_model(second, folder / "site-b.skops"),
    }


def _admin(session: Session, name: str = "ada") -> Any:
    Factory(session).user(Role.ADMIN, name=name)
    return require_admin(session, name, PASSWORD, "model.promote")


def _incoming(texts: list[str]) -> list[IncomingMessage]:
    sent = datetime.now(UTC) - timedelta(minutes=1)
    return [
        IncomingMessage(f"reg-{uuid.uuid4().hex}", f"p-{i % 7}", "patient", "portal", sent, text)
        for i, text in enumerate(texts)
    ]


def _queue(session: Session) -> list[tuple[Any, ...]]:
    rows = session.execute(
        select(
            Message.id, Message.probability, Message.flagged, Message.score_status,
            Message.model_version, Case.tier, Case.risk, Case.status,
        ).join(Case, Case.message_id == Message.id).order_by(Message.id)
    ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def test_register_promote_and_roll_back_need_an_admin_and_are_audited(
    session: Session, database_url: str, model_files: dict[str, Path]
) -> None:
    cli = AuditActor.cli("cli:test")
    a = register_model(session, model_files["a"], actor=cli)
    b = register_model(session, model_files["b"], actor=cli)
    assert a.model_id.startswith("site-a@") and len(a.file_sha256) == 64
    assert a.threshold is not None
    with pytest.raises(RegistryError, match="registered already"):
        register_model(session, model_files["a"], actor=cli)

    Factory(session).user(Role.SUPERVISOR, name="sue")
    with pytest.raises(PermissionDeniedError):
        require_admin(session, "sue", PASSWORD, "model.promote")
    with pytest.raises(PermissionDeniedError):
        require_admin(session, "ada", "wrong password", "model.promote")
    admin = _admin(session)

    promote(session, a.model_id, admin=admin)
    promote(session, b.model_id, admin=admin)
    roles = {e.model_id: e.role for e in list_models(session)}
    assert roles == {a.model_id: RETIRED, b.model_id: CHAMPION}
    back = rollback(session, admin=admin)
    assert back.model_id == a.model_id
    assert {e.model_id: e.role for e in list_models(session)}[b.model_id] == RETIRED
    current = champion(session)
    assert current is not None and current.model_id == a.model_id
    # The service scores with the registry's champion, whatever model it was configured with.
    service = create_app(settings_for(database_url, load_model=True)).state.service
    assert service.scorer is not None and service.scorer.card_["model_id"] == a.model_id

    entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("model.%"))).all()
    seen = [(e.action, e.outcome, e.actor_name) for e in entries]
    assert ("model.promote", "denied", "sue") in seen
    assert seen.count(("model.promote", "ok", "ada")) == 2
    assert ("model.rollback", "ok", "ada") in seen
    assert [e.action for e in entries].count("model.register") == 2


def test_a_changed_model_file_cannot_be_promoted(
    session: Session, model_files: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.skops"
    copy.write_bytes(model_files["a"].read_bytes())
    copy.with_name("copy.card.json").write_bytes(
        model_files["a"].with_name("site-a.card.json").read_bytes()
    )
    entry = register_model(session, copy, actor=AuditActor.cli())
    copy.write_bytes(model_files["b"].read_bytes())  # swapped after registration
    with pytest.raises(Exception, match=r"does not match its card|not the one registered"):
        promote(session, entry.model_id, admin=_admin(session))
    assert champion(session) is None


def test_shadow_scores_every_message_without_touching_the_queue(
    session: Session, engine: Engine, model_files: dict[str, Path], tmp_path: Path
) -> None:
    from crisis_triage.detector import load_model

    cli = AuditActor.cli()
    a = register_model(session, model_files["a"], actor=cli)
    b = register_model(session, model_files["b"], actor=cli)
    admin = _admin(session)
    promote(session, a.model_id, admin=admin)
    challenger_entry = start_shadow(session, b.model_id, admin=admin)

    texts, labels, _ = corpus(n=80, seed=11)
    texts[0] = SECRET
    results = ingest(session, load_model(model_files["a"]), _incoming(texts), TriagePolicy())
    before = _queue(session)
    stored = 0
    while batch := shadow_score_pending(session, load_model(model_files["b"]), challenger_entry):
        stored += batch
    assert stored == len(texts)
    session.expire_all()
    assert _queue(session) == before  # the queue is exactly as ingest left it

    # Shadow scores: ids and numbers only; the text is nowhere in the table.
    columns = {c["name"] for c in inspect(engine).get_columns("shadow_scores")}
    assert columns == {
        "id", "message_id", "model_id", "status", "probability", "flagged", "threshold",
        "error", "scored_at",
    }  # fmt: skip
    shadow = session.scalars(select(ShadowScore)).all()
    assert {s.model_id for s in shadow} == {b.model_id}
    assert all(SECRET not in repr(vars(s)) for s in shadow)
    reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "message.read")).all()
    assert any((e.details or {}).get("purpose") == "shadow_score" for e in reads)

    # Resolve every case with a disposition, then compare on the resolved messages.
    actor = specialist(session)
    for result, label in zip(results, labels, strict=True):
        flagged = bool(result.flagged)
        if label and flagged:
            disposition = Disposition.CONFIRMED_CRISIS
        elif label:
            disposition = Disposition.MISSED_CRISIS
        else:
            disposition = Disposition.NOT_CRISIS
        apply_action(session, result.case_id, Action.CLAIM, actor)
        apply_action(session, result.case_id, Action.ACKNOWLEDGE, actor)
        apply_action(
            session, result.case_id, Action.RESOLVE, actor, disposition=disposition,
            crisis_types=("SI",) if label else (),
        )  # fmt: skip
    session.commit()
    report = compare_resolved(session, ReportConfig(n_boot=200, seed=1))
    data = report.data
    assert data["dataset"]["n_evaluated"] == len(texts)
    assert data["dataset"]["n_positive"] == sum(labels)
    difference = data["differences"]["challenger"]["sensitivity"]
    assert difference["low"] is not None and difference["low"] <= difference["value"]
    assert data["shadow"]["challenger"] == b.model_id
    assert SECRET not in report.to_json()

    # And on a labelled file: both registered models, loaded and verified.
    labelled = tmp_path / "labelled.csv"
    file_texts, file_labels, _ = corpus(n=120, seed=5)
    pd.DataFrame({"text": file_texts, "crisis": file_labels}).to_csv(labelled, index=False)
    on_file = compare_on_file(
        session, labelled, TableSpec(label_col="crisis"), ReportConfig(n_boot=100)
    )
    assert set(on_file.data["models"]) == {"champion", "challenger"}
    assert on_file.data["dataset"]["n_evaluated"] == 120


class _Exploding:
    """A challenger whose every call fails."""

    card_: dict[str, Any] = {"model_id": "boom@0"}  # noqa: RUF012
    threshold_ = 0.5

    def explain(self, texts: Any) -> Any:
        raise RuntimeError("boom")


def test_a_failing_challenger_never_reaches_ingest(
    session: Session, database_url: str, model_files: dict[str, Path], caplog: Any
) -> None:
    from crisis_triage.detector import load_model

    admin = _admin(session)
    b = register_model(session, model_files["b"], actor=AuditActor.cli())
    entry = start_shadow(session, b.model_id, admin=admin)
    ingest(session, load_model(model_files["a"]), _incoming(["hello", SECRET]), TriagePolicy())
    before = _queue(session)
    assert shadow_score_pending(session, _Exploding(), entry) == 2  # type: ignore[arg-type]
    statuses = {s.status for s in session.scalars(select(ShadowScore))}
    assert statuses == {"unscored"}
    assert _queue(session) == before

    # The shadow worker: a challenger file that vanished is logged by type, and the round goes on.
    model_files_b_bytes = model_files["b"].read_bytes()
    model_files["b"].unlink()
    try:
        app = create_app(settings_for(database_url))
        worker = ShadowWorker(app.state.service)
        with caplog.at_level(logging.ERROR):
            assert worker.run_once() == 0
        assert "shadow scoring skipped this round: ModelLoadError" in caplog.text
        champion_model = load_model(model_files["a"])
        results = ingest(session, champion_model, _incoming(["again"]), TriagePolicy())
        assert results[0].score_status == "scored"
    finally:
        model_files["b"].write_bytes(model_files_b_bytes)
