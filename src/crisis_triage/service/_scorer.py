"""Loading the detector for the service; a missing model never stops the service starting."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from crisis_triage.detector import Scorer

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
