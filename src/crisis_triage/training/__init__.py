"""Training detectors: labelled data with licence filtering, presets, the bundled-model recipe,
and site adaptation of a fitted detector."""

from crisis_triage.training._adapt import (
    MIN_SITE_CRISES,
    RECOMMENDED_SITE_CRISES,
    AdaptationReport,
    adapt,
    adapt_file,
    duplicate_groups,
)
from crisis_triage.training._data import (
    AMBIGUOUS_CHOICES,
    DataError,
    LabelledData,
    is_noncommercial,
    load_labelled,
)
from crisis_triage.training._train import (
    DEFAULT_RECIPE,
    Recipe,
    default_data_dir,
    term_list_lexicon,
    train,
    train_default,
)

__all__ = [
    "AMBIGUOUS_CHOICES",
    "DEFAULT_RECIPE",
    "MIN_SITE_CRISES",
    "RECOMMENDED_SITE_CRISES",
    "AdaptationReport",
    "DataError",
    "LabelledData",
    "Recipe",
    "adapt",
    "adapt_file",
    "default_data_dir",
    "duplicate_groups",
    "is_noncommercial",
    "load_labelled",
    "term_list_lexicon",
    "train",
    "train_default",
]
