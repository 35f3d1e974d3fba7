"""The crisis message detector: a scikit-learn estimator with explanations and model files.

Sentence encoders sit behind one interface: ``get_encoder(name).encode(texts)``.
"""

from crisis_triage.detector._adapted import SiteAdaptedDetector
from crisis_triage.detector._base_features import (
    AdaptationError,
    BaseFeatures,
    base_features,
    check_site_labels,
)
from crisis_triage.detector._card import score_reference
from crisis_triage.detector._detector import TwoStageDetector, make_detector
from crisis_triage.detector._embedding_cache import EmbeddingCache, default_cache_directory
from crisis_triage.detector._encoder_registry import encoder_names, encoder_status, get_encoder
from crisis_triage.detector._encoders import (
    FULL_ENCODER,
    STATIC_ENCODER,
    EncoderUnavailable,
    SentenceEncoder,
)
from crisis_triage.detector._explanation import Explanation, ReasonItem, Scorer
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
    SCORE_COLUMNS,
    UNSUPPORTED_LANGUAGE,
    ScoredMessage,
    score_frame,
    score_messages,
)
from crisis_triage.detector._stacked import StackedDetector

__all__ = [
    "ALLOWED_TYPES",
    "BUNDLED_MODEL_PATH",
    "DEFAULT_LANGUAGES",
    "FULL_ENCODER",
    "MAX_CHARS",
    "PRESETS",
    "SCORE_COLUMNS",
    "STATIC_ENCODER",
    "UNSUPPORTED_LANGUAGE",
    "AdaptationError",
    "BaseFeatures",
    "EmbeddingCache",
    "EncoderUnavailable",
    "Explanation",
    "LanguageCheck",
    "ModelLoadError",
    "ReasonItem",
    "ScoredMessage",
    "Scorer",
    "SentenceEncoder",
    "SiteAdaptedDetector",
    "StackedDetector",
    "TwoStageDetector",
    "base_features",
    "card_path",
    "check_language",
    "check_site_labels",
    "default_cache_directory",
    "encoder_names",
    "encoder_status",
    "get_encoder",
    "load_model",
    "make_detector",
    "model_languages",
    "read_card",
    "save_model",
    "score_frame",
    "score_messages",
    "score_reference",
    "unsupported_language_reason",
]
