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
from crisis_triage.detector._language import (
    DEFAULT_LANGUAGES,
    LanguageCheck,
    check_language,
    model_languages,
    unsupported_language_reason,
)
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
from crisis_triage.detector._scoring import (
    MAX_CHARS,
    UNSUPPORTED_LANGUAGE,
    ScoredMessage,
    score_messages,
)

__all__ = [
    "ALLOWED_TYPES",
    "BUNDLED_MODEL_PATH",
    "DEFAULT_LANGUAGES",
    "MAX_CHARS",
    "PRESETS",
    "UNSUPPORTED_LANGUAGE",
    "AdaptationError",
    "BaseFeatures",
    "Explanation",
    "LanguageCheck",
    "ModelLoadError",
    "ScoredMessage",
    "Scorer",
    "SiteAdaptedDetector",
    "TwoStageDetector",
    "base_features",
    "card_path",
    "check_language",
    "check_site_labels",
    "load_model",
    "make_detector",
    "model_languages",
    "read_card",
    "save_model",
    "score_messages",
    "unsupported_language_reason",
]
