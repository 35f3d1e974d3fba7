"""The crisis message detector: a scikit-learn estimator with explanations and model files."""

from crisis_triage.detector._adapted import (
    AdaptationError,
    BaseFeatures,
    SiteAdaptedDetector,
    base_features,
    check_site_labels,
)
from crisis_triage.detector._detector import TwoStageDetector, make_detector
from crisis_triage.detector._explanation import Explanation, Scorer
from crisis_triage.detector._persist import (
    ALLOWED_TYPES,
    BUNDLED_MODEL_PATH,
    ModelLoadError,
    card_path,
    load_model,
    read_card,
    save_model,
)
from crisis_triage.detector._presets import PRESETS
from crisis_triage.detector._scoring import MAX_CHARS, ScoredMessage, score_messages

__all__ = [
    "ALLOWED_TYPES",
    "BUNDLED_MODEL_PATH",
    "MAX_CHARS",
    "PRESETS",
    "AdaptationError",
    "BaseFeatures",
    "Explanation",
    "ModelLoadError",
    "ScoredMessage",
    "Scorer",
    "SiteAdaptedDetector",
    "TwoStageDetector",
    "base_features",
    "card_path",
    "check_site_labels",
    "load_model",
    "make_detector",
    "read_card",
    "save_model",
    "score_messages",
]
