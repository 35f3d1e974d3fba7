"""Named detector configurations.

``cmd1`` is the CMD-1 study's configuration (Swaminathan et al. 2023) as the paper states it:
a crisis-term gate, TF-IDF word 1-5-grams (scikit-learn defaults otherwise: every n-gram,
raw term frequency), L1 logistic regression with C chosen by stratified 10-fold
cross-validation minimising misclassification cost with a false negative costing 20 false
positives, a fixed threshold of 0.01 and no calibration.  The paper used its own term list;
this preset gates on the lexicon passed as ``lexicon`` (the project's bundled lexicon by
default).  To gate on the CMD-1 term list itself, pass
``lexicon=crisis_triage.training.term_list_lexicon(path)``.

``default`` is the configuration of the bundled model, chosen on bench_core_dev (see
docs/detector.md): it gates on the project's lexicon, whose context rules drop the figurative,
negated and informational uses that make an ungated model trained on forum labels flag four
messages in ten; keeps only the n-grams the L1 model selects (a small model file, exactly
reproducible scores) and calibrates probabilities on out-of-fold scores.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

CMD1_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)

_CMD1: dict[str, Any] = {
    "gate": "lexicon",
    "lexicon": None,
    "ngram_range": (1, 5),
    "char_ngrams": None,
    "min_df": 1,
    "sublinear_tf": False,
    "Cs": CMD1_C_GRID,
    "C": None,
    "cv": 10,
    "cost_fn": 20.0,
    "threshold_mode": "fixed",
    "threshold": 0.01,
    "target_sensitivity": 0.95,
    "calibration": "none",
    "class_weight": None,
    "prune_refit": False,
    "solver": "liblinear",
}

_DEFAULT: dict[str, Any] = _CMD1 | {
    "gate": "lexicon",
    "min_df": 2,
    "sublinear_tf": True,
    "Cs": (0.3, 1.0, 3.0, 10.0),
    "threshold_mode": "cost",
    "calibration": "sigmoid",
    "prune_refit": True,
}

PRESETS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {"cmd1": MappingProxyType(_CMD1), "default": MappingProxyType(_DEFAULT)}
)


def preset_params(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def matching_preset(params: dict[str, Any]) -> str:
    """The preset whose settings ``params`` has, the lexicon aside (``custom`` if none)."""
    for name, preset in PRESETS.items():
        if all(
            _same(params.get(key), value, strict_type=key == "min_df")
            for key, value in preset.items()
            if key != "lexicon"
        ):
            return name
    return "custom"


def _same(a: Any, b: Any, *, strict_type: bool = False) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if strict_type and type(a) is not type(b):
        return False
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)
