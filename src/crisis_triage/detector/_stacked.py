"""Detector v2: every message scored by a learned combination of all the evidence.

No gate.  Three base models each give log-odds: n-grams (word 1-3 and character 2-5 TF-IDF,
so typos and mangled words still count), a static sentence embedding distilled from the
multilingual encoder (fast, numpy only), and the full multilingual encoder.  A stacker
weighs them together with the lexicon evidence (which entries matched, and which context
rules explained a hit away), and a calibrator turns its output into a probability.

Two tiers share all of this.  The *fast* tier (n-grams, static embedding, lexicon) scores a
message in about a millisecond, so ingest stays fast; the *full* tier adds the encoder and is
the final score (batch commands use it; the service re-scores in the background).  When the
encoder cannot be loaded the full tier falls back to the fast one and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from crisis_triage.detector import _stack_fitting as stack
from crisis_triage.detector._card import created_date, jsonable, library_versions
from crisis_triage.detector._compiled import CompiledScorer
from crisis_triage.detector._encoder_registry import get_encoder
from crisis_triage.detector._encoders import EncoderUnavailable
from crisis_triage.detector._evidence import EVIDENCE_FEATURES, lexicon_evidence
from crisis_triage.detector._explanation import Explanation
from crisis_triage.detector._features import CHAR_PREFIX
from crisis_triage.detector._inputs import TextDetectorMixin, as_texts
from crisis_triage.detector._phrases import informative, sentence_spans
from crisis_triage.detector._selection import calibrate
from crisis_triage.lexicon import CATEGORIES, Lexicon
from crisis_triage.text import normalise

HEAD_THRESHOLD = 0.5


def _linear(model: Any, X: np.ndarray) -> np.ndarray:
    """A fitted binary linear model's decision function, without scikit-learn's per-call
    validation (tens of microseconds a call, which matters for one message at a time)."""
    decision: np.ndarray = X @ model.coef_[0] + model.intercept_[0]
    return decision


_PUSHES_CONSIDERED = 40


def default_embed(name: str, texts: Sequence[str]) -> np.ndarray:
    return get_encoder(name).encode(list(texts))


class StackedDetector(TextDetectorMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Lexicon evidence + n-grams + sentence embeddings, stacked and calibrated (detector v2).

    Parameters are described in docs/detector-v2.md.  Fitted attributes end in ``_``:
    ``lexicon_``, ``vectorizers_`` (word, char), ``ngram_model_``, ``static_model_``,
    ``semantic_model_`` (None without the encoder), ``fast_stacker_`` / ``stacker_``,
    ``fast_calibrator_`` / ``calibrator_``, ``fast_threshold_`` / ``threshold_``,
    ``category_heads_``, ``languages_`` and ``card_``.
    """

    _TRANSIENT = ("_cache", "oof_")  # out-of-fold scores are for the card, not the file
    # What models saved before these parameters existed did.
    stack_outside_calibration_weight = 1.0
    semantic_outside_calibration_weight = 1.0

    def __init__(
        self,
        *,
        lexicon: Any = None,
        word_ngrams: tuple[int, int] = (1, 3),
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 2,
        ngram_C: float = 1.0,
        embedding_C: float = 1.0,
        stack_C: float = 1.0,
        stack_outside_calibration_weight: float = 1.0,
        semantic_outside_calibration_weight: float = 1.0,
        fast_encoder: str = "static-e5-v1",
        full_encoder: str | None = "e5-small-q4",
        cv: int = 5,
        target_sensitivity: float = 0.95,
        languages: tuple[str, ...] = ("en", "es"),
        min_category_positives: int = 10,
        category_C: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.lexicon = lexicon
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.ngram_C = ngram_C
        self.embedding_C = embedding_C
        self.stack_C = stack_C
        self.stack_outside_calibration_weight = stack_outside_calibration_weight
        self.semantic_outside_calibration_weight = semantic_outside_calibration_weight
        self.fast_encoder = fast_encoder
        self.full_encoder = full_encoder
        self.cv = cv
        self.target_sensitivity = target_sensitivity
        self.languages = languages
        self.min_category_positives = min_category_positives
        self.category_C = category_C
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        y: Any,
        sample_weight: Any = None,
        crisis_types: Sequence[str] | None = None,
        *,
        target: Any = None,
        calibrate_on: Any = None,
        threshold_on: Any = None,
        embed: Callable[[str, Sequence[str]], np.ndarray] | None = None,
    ) -> StackedDetector:
        """Fit on messages ``X`` with labels ``y`` (1 crisis, 0 not).

        ``target`` marks the rows like the messages the model will score (they train the
        encoder model and the stacker; default: all rows); ``calibrate_on`` the target rows
        at a realistic prevalence on which probabilities are calibrated and the threshold is
        chosen (default: all target rows); ``threshold_on`` the calibration rows on which the
        threshold meets the sensitivity target (default: all calibration rows);
        ``embed(encoder_name, texts)`` embeds texts (default: the named encoder; training
        passes a cached one).
        """
        self._check_params()
        texts = as_texts(X)
        labels = np.asarray(y, dtype=np.int64)
        if labels.shape != (len(texts),) or not set(np.unique(labels)) <= {0, 1}:
            raise ValueError("y must hold one 0/1 label per message")
        n = len(texts)
        weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        target_mask = np.ones(n, bool) if target is None else np.asarray(target, bool)
        calib = target_mask.copy() if calibrate_on is None else np.asarray(calibrate_on, bool)
        if calib.sum() == 0 or labels[calib].sum() < self.cv or labels[target_mask].sum() < self.cv:
            raise ValueError(
                f"too few crises to fit: at least {self.cv} labelled crises are needed among "
                "the target rows and among the calibration rows"
            )
        embed = embed or default_embed
        lexicon = self._resolve_lexicon()
        normalised = [normalise(t) for t in texts]
        vectorizers = stack.fit_vectorizers(self, normalised)
        inputs = stack.compute_inputs(
            self, lexicon, normalised, texts, target_mask, embed, vectorizers
        )
        calib &= target_mask
        at = calib.copy() if threshold_on is None else np.asarray(threshold_on, bool) & calib
        if labels[at].sum() < 1:
            raise ValueError("the threshold rows hold no labelled crisis")
        fitted = stack.fit_stack(self, inputs, labels, weights, target_mask, calib, at)
        pruned = stack.prune(self, fitted.attributes, vectorizers, inputs, labels, weights)
        heads = stack.category_heads(self, inputs.static, inputs.evidence, labels, crisis_types)
        for name, value in fitted.attributes.items():
            setattr(self, name, value)
        self.vectorizers_ = pruned["vectorizers"]
        self.ngram_model_ = pruned["model"]
        self.classes_ = np.array([0, 1])
        self.lexicon_ = lexicon
        self.category_heads_ = heads
        self.languages_ = tuple(self.languages)
        self.oof_ = fitted.oof
        self.card_ = self._card(fitted, inputs, labels, target_mask, calib, at)
        self._cache: dict[str, Any] = {}
        return self

    def _check_params(self) -> None:
        checks = [
            (isinstance(self.cv, int) and self.cv >= 2, "cv must be a whole number >= 2"),
            (0 < self.target_sensitivity <= 1, "target_sensitivity must be in (0, 1]"),
            (
                min(self.ngram_C, self.embedding_C, self.stack_C, self.category_C) > 0,
                "C values must be positive",
            ),
            (
                isinstance(self.min_df, int) and self.min_df >= 1,
                "min_df must be a whole number >= 1",
            ),
            (bool(self.fast_encoder), "fast_encoder must name an encoder"),
            (
                0 <= self.stack_outside_calibration_weight <= 1,
                "stack_outside_calibration_weight must be in [0, 1]",
            ),
            (
                0 <= self.semantic_outside_calibration_weight <= 1,
                "semantic_outside_calibration_weight must be in [0, 1]",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def _resolve_lexicon(self) -> Lexicon:
        if isinstance(self.lexicon, Lexicon):
            return self.lexicon
        return Lexicon.load(self.lexicon)

    def _card(
        self,
        fitted: stack.StackFit,
        inputs: stack.Inputs,
        labels: np.ndarray,
        target: np.ndarray,
        calib: np.ndarray,
        at: np.ndarray,
    ) -> dict[str, Any]:
        params = self.get_params()
        params["lexicon"] = "bundled" if self.lexicon is None else str(self.lexicon)[:200]
        card: dict[str, Any] = jsonable(
            {
                "model": "crisis_triage.detector.StackedDetector",
                "detector_version": 2,
                "created": created_date(),
                "libraries": library_versions(),
                "params": params,
                "lexicon": {"version": self.lexicon_.version, "sha256": self.lexicon_.sha256},
                "languages": list(self.languages_),
                "tiers": {
                    "fast": {
                        "members": [*stack.FAST_MEMBERS, "lexicon evidence"],
                        "threshold": self.fast_threshold_,
                    },
                    "full": {
                        "members": [*self.full_members_, "lexicon evidence"],
                        "threshold": self.threshold_,
                    },
                },
                "threshold": {
                    "value": self.threshold_,
                    "how": (
                        f"highest threshold whose out-of-fold sensitivity on the threshold "
                        f"rows ({int(labels[at].sum())} crises) is at least "
                        f"{self.target_sensitivity}"
                    ),
                },
                "training": {
                    "n": len(labels),
                    "n_positive": int(labels.sum()),
                    "n_target": int(target.sum()),
                    "n_target_positive": int(labels[target].sum()),
                    "n_calibration": int(calib.sum()),
                    "n_calibration_positive": int(labels[calib].sum()),
                    "n_threshold": int(at.sum()),
                    "n_threshold_positive": int(labels[at].sum()),
                    "ngram_features_kept": int(self.ngram_model_.coef_.shape[1]),
                },
                "stacker_weights": {
                    "full": dict(
                        zip(
                            [*self.full_members_, *EVIDENCE_FEATURES],
                            self.stacker_.coef_[0].round(4).tolist(),
                            strict=True,
                        )
                    ),
                },
                "categories": {"heads": sorted(self.category_heads_)},
                "warnings": fitted.warnings,
                "data": {},
            }
        )
        return card

    # -- scoring --------------------------------------------------------------------------
    def semantic_available(self) -> bool:
        """Whether the full tier's encoder loads here (False: scores are fast-tier only)."""
        return self._semantic_encoder() is not None

    def _semantic_encoder(self) -> Any:
        check_is_fitted(self, "threshold_")
        cache = self.__dict__.setdefault("_cache", {})
        if "semantic" not in cache:
            encoder = None
            if self.semantic_model_ is not None and self.full_encoder is not None:
                try:
                    encoder = get_encoder(self.full_encoder)
                except EncoderUnavailable:
                    encoder = None
            cache["semantic"] = encoder
        return cache["semantic"]

    def _compiled(self) -> CompiledScorer:
        cache = self.__dict__.setdefault("_cache", {})
        if "compiled" not in cache:
            blocks = [(i, v) for i, v in enumerate(self.vectorizers_) if v is not None]
            cache["compiled"] = CompiledScorer.from_fitted(
                [v for _, v in blocks],
                self.ngram_model_,
                prefixes=["" if i == 0 else CHAR_PREFIX for i, _ in blocks],
            )
        compiled: CompiledScorer = cache["compiled"]
        return compiled

    def _static(self, texts: Sequence[str]) -> np.ndarray:
        return get_encoder(self.fast_encoder).encode(list(texts))

    def _score(self, texts: list[str], *, full: bool, n_top: int = 0) -> dict[str, Any]:
        check_is_fitted(self, "threshold_")
        normalised = [normalise(t) for t in texts]
        evidence, hits = lexicon_evidence(self.lexicon_, normalised)
        ngrams = self._compiled().score(normalised, top_k=_PUSHES_CONSIDERED if n_top else 0)
        static = self._static(texts)
        scores = {
            "ngrams": ngrams.decision,
            "static": _linear(self.static_model_, static),
        }
        encoder = self._semantic_encoder() if full else None
        tier = "fast"
        if encoder is not None:
            scores["semantic"] = _linear(self.semantic_model_, encoder.encode(texts))
            tier = "full"
        if tier == "full":
            z = _linear(self.stacker_, stack.level1(scores, evidence, self.full_members_))
            p = calibrate(self.calibrator_, z)
            threshold = self.threshold_
        else:
            z = _linear(self.fast_stacker_, stack.level1(scores, evidence, stack.FAST_MEMBERS))
            p = calibrate(self.fast_calibrator_, z)
            threshold = self.fast_threshold_
        return {
            "probability": p,
            "threshold": threshold,
            "tier": tier,
            "hits": hits,
            "evidence": evidence,
            "static": static,
            "scores": scores,
            "pushes": ngrams.top_ngrams,
        }

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Column 1 is the final (full-tier) crisis probability; never exactly 0 or 1."""
        p = self._score(as_texts(X), full=True)["probability"]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[str]) -> np.ndarray:
        scored = self._score(as_texts(X), full=True)
        flagged: np.ndarray = scored["probability"] >= scored["threshold"]
        return flagged.astype(np.int64)

    def explain(self, X: Sequence[str], n_top: int = 5) -> list[Explanation]:
        """The final score (both tiers when the encoder is available) and its reasons."""
        return self._explain(as_texts(X), full=True, n_top=n_top)

    def explain_fast(self, X: Sequence[str], n_top: int = 5) -> list[Explanation]:
        """The fast tier alone: what ingest uses before the semantic re-score."""
        return self._explain(as_texts(X), full=False, n_top=n_top)

    def _explain(self, texts: list[str], *, full: bool, n_top: int) -> list[Explanation]:
        scored = self._score(texts, full=full, n_top=n_top)
        p, threshold = scored["probability"], scored["threshold"]
        heads = {
            c: expit(_linear(head, np.column_stack([scored["static"], scored["evidence"]])))
            for c, head in self.category_heads_.items()
        }
        out = []
        for i, text in enumerate(texts):
            flagged = bool(p[i] >= threshold)
            categories = self._categories(i, heads, scored["hits"][i], flagged)
            notes = [f"scored by the {scored['tier']} tier"]
            if full and scored["tier"] == "fast":
                notes.append("semantic encoder unavailable: fast-tier score only")
            out.append(
                Explanation(
                    probability=float(p[i]),
                    flagged=flagged,
                    threshold=float(threshold),
                    categories=categories,
                    lexicon_hits=tuple(scored["hits"][i]),
                    top_ngrams=informative(scored["pushes"][i], n_top) if n_top else (),
                    notes=tuple(notes),
                    sentence=self._risk_sentence(text) if n_top and flagged else None,
                    tier=scored["tier"],
                    evidence={k: float(v[i]) for k, v in scored["scores"].items()},
                )
            )
        return out

    @staticmethod
    def _categories(
        i: int, heads: dict[str, np.ndarray], hits: Sequence[Any], flagged: bool
    ) -> tuple[str, ...]:
        """The model's categories for a flagged message; lexicon categories only as fallback."""
        if not flagged:
            return ()
        chosen = {c for c, values in heads.items() if values[i] >= HEAD_THRESHOLD}
        if not chosen and heads:
            chosen = {max(heads, key=lambda c: heads[c][i])}
        if not chosen:
            chosen = {h.category for h in hits if h.active}
        return tuple(c for c in CATEGORIES if c in chosen)

    def _risk_sentence(self, text: str) -> tuple[int, int] | None:
        """The sentence or clause with the highest n-gram score (character offsets in ``text``)."""
        spans = sentence_spans(text)
        if len(spans) < 2:
            return spans[0] if spans else None
        pieces = [normalise(text[a:b]) for a, b in spans]
        decision = self._compiled().decision_function(pieces)
        return spans[int(np.argmax(decision))]
