"""Loading the detector for the service; a missing model never stops the service starting."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crisis_triage.detector import Scorer, read_card
from crisis_triage.registry import champion

log = logging.getLogger(__name__)


def load_scorer(path: Path | None) -> tuple[Scorer | None, str | None]:
    """The model at ``path`` (None: the detector's bundled default), or None and the reason.

    Any failure is logged and reported, never raised: without a model every message is still
    stored and queued as unscored ("review now").
    """
    try:
        detector = importlib.import_module("crisis_triage.detector")
        load_model = detector.load_model
    except (ImportError, AttributeError):
        problem = "the detector's load_model is not available in this build"
        log.error("model not loaded: %s; messages will queue unscored", problem)
        return None, problem
    try:
        scorer: Scorer = load_model(path)
    except Exception as exc:
        problem = f"model could not be loaded: {type(exc).__name__}: {exc}"[:300]
        log.error("model not loaded from %s: %s; messages will queue unscored", path, problem)
        return None, problem
    log.info("model loaded from %s", path or "the bundled default")
    return scorer, None


def registered_champion(engine: Engine) -> Path | None:
    """The model file of the registry's champion, or None (no champion, or the registry cannot
    be read: the configured model is used, and the reason logged)."""
    try:
        with Session(engine) as session:
            entry = champion(session)
    except Exception as exc:  # not migrated yet, database down: the configured model serves
        log.warning("model registry not read (%s); using the configured model", type(exc).__name__)
        return None
    if entry is None:
        return None
    try:
        same_file = read_card(entry.path).get("file_sha256") == entry.file_sha256
    except Exception as exc:
        log.error("champion %s not loadable: %s", entry.model_id, type(exc).__name__)
        same_file = False
    if not same_file:
        log.error(
            "champion %s: the file at its path is not the one registered; "
            "using the configured model",
            entry.model_id,
        )
        return None
    log.info("model registry: champion %s", entry.model_id)
    return Path(entry.path)
