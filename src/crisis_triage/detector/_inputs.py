"""Checking what callers pass to the detector, and carrying a lexicon as plain data.

Error messages name positions and counts, never message text.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from crisis_triage.lexicon import CATEGORIES, ContextRule, Lexicon, LexiconEntry

_LEXICON_MARK = "__crisis_triage_lexicon__"


def as_texts(X: Any, name: str = "X") -> list[str]:
    """A list of message strings; anything else is an error naming the position."""
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a sequence of messages, not a single string")
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of messages") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            kind = "missing" if _is_missing(text) else type(text).__name__
            raise TypeError(f"{name}[{i}] is {kind}, not a string (give '' for an empty message)")
    return texts


def as_labels(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"y must have one label per message ({n}), got shape {labels.shape}")
    if labels.dtype == bool:
        return labels.astype(np.int64)
    try:
        values = labels.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("y must hold the labels 0 and 1") from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        found = sorted({str(v) for v in labels[bad].tolist()})[:5]
        raise ValueError(f"y must hold only 0 and 1; found {', '.join(found)}")
    return values.astype(np.int64)


def as_weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight must have one weight per message ({n})")
    if not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return weight


def as_category_sets(crisis_types: Any, n: int) -> list[frozenset[str]] | None:
    """Parse per-message crisis types such as ``"SI/NSSI"`` (missing: no types)."""
    if crisis_types is None:
        return None
    values = list(crisis_types)
    if len(values) != n:
        raise ValueError(f"crisis_types must have one entry per message ({n})")
    parsed: list[frozenset[str]] = []
    for i, value in enumerate(values):
        if _is_missing(value) or value == "":
            parsed.append(frozenset())
            continue
        parts = frozenset(p.strip().upper() for p in str(value).replace(",", "/").split("/"))
        unknown = parts - set(CATEGORIES) - {""}
        if unknown:
            raise ValueError(
                f"crisis_types[{i}] has unknown categories {sorted(unknown)}; "
                f"use {', '.join(CATEGORIES)} joined with '/'"
            )
        parsed.append(parts - {""})
    return parsed


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is np.nan


def resolve_lexicon(lexicon: Any) -> Lexicon:
    """The ``lexicon`` parameter as a loaded Lexicon (None: the bundled one)."""
    if isinstance(lexicon, Lexicon):
        return lexicon
    if lexicon is None or isinstance(lexicon, str | Path):
        return Lexicon.load(lexicon)
    if isinstance(lexicon, dict) and _LEXICON_MARK in lexicon:
        return lexicon_from_state(lexicon)
    raise TypeError("lexicon must be None (the bundled lexicon), a file path or a Lexicon")


def describe_lexicon(lexicon: Lexicon, param: Any) -> dict[str, Any]:
    if param is None:
        source = "bundled"
    elif isinstance(param, str | Path):
        source = Path(param).name
    else:
        source = "given as an object"
    return {
        "version": lexicon.version,
        "sha256": lexicon.sha256,
        "entries": len(lexicon.entries),
        "context_rules": len(lexicon.context_rules),
        "source": source,
    }


def lexicon_to_state(lexicon: Lexicon) -> dict[str, Any]:
    """A Lexicon as plain data (skops stores it without custom types)."""
    state: dict[str, Any] = {_LEXICON_MARK: 1}
    for field in dataclasses.fields(lexicon):
        if not field.init:
            continue
        value = getattr(lexicon, field.name)
        if field.name in ("entries", "context_rules"):
            value = [_plain(dataclasses.asdict(item)) for item in value]
        state[field.name] = _plain(value)
    return state


def lexicon_from_state(state: dict[str, Any]) -> Lexicon:
    values = {k: v for k, v in state.items() if k != _LEXICON_MARK}
    values["entries"] = tuple(LexiconEntry(**_tuples(e)) for e in values.get("entries", ()))
    values["context_rules"] = tuple(
        ContextRule(**_tuples(r)) for r in values.get("context_rules", ())
    )
    return Lexicon(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _tuples(item: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}


def unique_sorted(values: Iterable[float]) -> tuple[float, ...]:
    grid = sorted({float(v) for v in values})
    if not grid or any(not math.isfinite(c) or c <= 0 for c in grid):
        raise ValueError("Cs must be a non-empty list of positive, finite numbers")
    return tuple(grid)


class TextDetectorMixin:
    """What every detector shares: it takes texts, not a 2-D array, and its model file holds
    plain state (the Lexicon travels as data; caches and ``_TRANSIENT`` attributes do not)."""

    _TRANSIENT: tuple[str, ...] = ("_cache",)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = dict(super().__getstate__())  # type: ignore[call-overload]
        for name in self._TRANSIENT:
            state.pop(name, None)
        for key in ("lexicon_", "lexicon"):
            if isinstance(state.get(key), Lexicon):
                state[key] = lexicon_to_state(state[key])
        if isinstance(state.get("lexicon"), Path):
            state["lexicon"] = str(state["lexicon"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for key in ("lexicon_", "lexicon"):
            if isinstance(state.get(key), dict):
                state[key] = lexicon_from_state(state[key])
        super().__setstate__(state)  # type: ignore[misc]
