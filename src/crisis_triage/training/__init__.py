"""Training detectors: labelled data with licence filtering, presets, the bundled-model recipe."""

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
    "DataError",
    "LabelledData",
    "Recipe",
    "default_data_dir",
    "is_noncommercial",
    "load_labelled",
    "term_list_lexicon",
    "train",
    "train_default",
]
