"""Error analysis: every missed crisis with why it was missed, and false-positive patterns.

With ``redact`` the message text is replaced by the message id, matched lexicon terms by the
lexicon entry id, and model n-grams are left out (they are fragments of the message).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from crisis_triage.detector import Explanation

REASONS = {
    "gated_out": "no active lexicon hit, so the lexicon gate kept it from the model",
    "lexicon_suppressed": "its lexicon hit(s) were explained away by a context rule",
    "no_lexicon_hit": "no lexicon hit, and the model scored it below the threshold",
    "low_score": "the model scored it below the threshold",
}
TOP_PATTERNS = 15


def _lexicon(explanation: Explanation | None, redact: bool) -> list[str]:
    if explanation is None:
        return []
    out = []
    for hit in explanation.lexicon_hits:
        label = f"{hit.category}:{hit.entry_id}" if redact else hit.describe()
        if not hit.active:
            label += f" (suppressed: {hit.effect})" if redact else ""
        out.append(label)
    return out


def _ngrams(explanation: Explanation | None, redact: bool) -> list[list[Any]]:
    if explanation is None or redact:
        return []
    return [[gram, float(weight)] for gram, weight in explanation.top_ngrams]


def miss_reason(explanation: Explanation | None, lexicon_flag: float | None) -> str:
    """Why a crisis message was not flagged (a key of ``REASONS``)."""
    if explanation is not None:
        if not explanation.gate_passed:
            return "gated_out"
        hits = explanation.lexicon_hits
        if hits and not any(h.active for h in hits):
            return "lexicon_suppressed"
        return "low_score" if any(h.active for h in hits) else "no_lexicon_hit"
    if lexicon_flag is not None and lexicon_flag < 0.5:
        return "no_lexicon_hit"
    return "low_score"


def _message(
    row: int,
    *,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    scores: NDArray[np.float64],
    labels: NDArray[np.int8],
    groups: Mapping[str, Sequence[str]],
    explanation: Explanation | None,
    redact: bool,
) -> dict[str, Any]:
    return {
        "id": ids[row],
        "text": None if redact or texts is None else texts[row],
        "score": float(scores[row]),
        "label": int(labels[row]),
        "lexicon": _lexicon(explanation, redact),
        "ngrams": _ngrams(explanation, redact),
        "groups": {name: values[row] for name, values in groups.items()},
    }


def error_analysis(
    rows: NDArray[np.intp],
    truth: NDArray[np.bool_],
    *,
    scores: NDArray[np.float64],
    threshold: float,
    labels: NDArray[np.int8],
    ids: Sequence[str],
    texts: Sequence[str] | None,
    baseline: NDArray[np.float64] | None,
    groups: Mapping[str, Sequence[str]],
    explanations: Mapping[int, Explanation],
    redact: bool,
    max_false_positives: int = 50,
) -> dict[str, Any]:
    """``rows`` are the positions (in the full data) of the evaluated messages; ``truth`` theirs."""
    flagged = scores[rows] >= threshold
    common: dict[str, Any] = {
        "ids": ids,
        "texts": texts,
        "scores": scores,
        "labels": labels,
        "groups": groups,
        "redact": redact,
    }
    missed = rows[truth & ~flagged]
    false_negatives = []
    for row in missed[np.argsort(-scores[missed], kind="stable")]:
        explanation = explanations.get(int(row))
        item = _message(int(row), explanation=explanation, **common)
        lexicon_flag = None if baseline is None else float(baseline[row])
        item["reason"] = miss_reason(explanation, lexicon_flag)
        false_negatives.append(item)
    wrong = rows[~truth & flagged]
    top = wrong[np.argsort(-scores[wrong], kind="stable")][:max_false_positives]
    false_positives = [
        _message(int(r), explanation=explanations.get(int(r)), **common) for r in top
    ]
    return {
        "n_false_negatives": len(false_negatives),
        "n_false_positives": int(wrong.shape[0]),
        "false_negatives": false_negatives,
        "miss_reasons": dict(Counter(item["reason"] for item in false_negatives).most_common()),
        "reason_text": REASONS,
        "false_positives_shown": false_positives,
        "false_positive_patterns": _fp_patterns(
            rows, truth, wrong, groups, explanations, baseline, redact
        ),
    }


def _fp_patterns(
    rows: NDArray[np.intp],
    truth: NDArray[np.bool_],
    wrong: NDArray[np.intp],
    groups: Mapping[str, Sequence[str]],
    explanations: Mapping[int, Explanation],
    baseline: NDArray[np.float64] | None,
    redact: bool,
) -> dict[str, Any]:
    """False positives by group value, by lexicon entry and by model n-gram."""
    negatives = rows[~truth]
    by_group: dict[str, list[dict[str, Any]]] = {}
    for name, values in groups.items():
        fp_counts = Counter(values[r] for r in wrong)
        neg_counts = Counter(values[r] for r in negatives)
        by_group[name] = [
            {
                "value": value,
                "false_positives": count,
                "negatives": neg_counts[value],
                "fp_per_1000_negatives": 1000.0 * count / neg_counts[value],
                "share_of_false_positives": count / max(1, wrong.shape[0]),
            }
            for value, count in fp_counts.most_common(TOP_PATTERNS)
        ]
    entries: Counter[str] = Counter()
    grams: Counter[str] = Counter()
    for r in wrong:
        explanation = explanations.get(int(r))
        if explanation is None:
            continue
        for hit in explanation.lexicon_hits:
            if hit.active:
                entries[f"{hit.category}:{hit.entry_id}" if redact else hit.describe()] += 1
        if not redact:
            grams.update(g for g, w in explanation.top_ngrams if w > 0)
    with_hit = None
    if baseline is not None and wrong.shape[0]:
        with_hit = int(np.count_nonzero(baseline[wrong] >= 0.5))
    return {
        "by_group": by_group,
        "lexicon_entries": [[k, v] for k, v in entries.most_common(TOP_PATTERNS)],
        "ngrams": [[k, v] for k, v in grams.most_common(TOP_PATTERNS)],
        "with_lexicon_hit": with_hit,
        "explained": sum(1 for r in wrong if int(r) in explanations),
    }
