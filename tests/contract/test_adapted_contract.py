"""SiteAdaptedDetector: fit/persist/explain contract, refusals, and that adaptation helps."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_messages import corpus, fast_detector

from crisis_triage.detector import (
    AdaptationError,
    SiteAdaptedDetector,
    TwoStageDetector,
    load_model,
    read_card,
    save_model,
)
from crisis_triage.training import adapt

PROBES = ["i want to kill myself tonight", "my husband hits me", "refill my sertraline", ""]


def _relabel(texts: list[str], labels: list[int], bad: str) -> list[int]:
    """Labels with every message containing ``bad`` set to 0 (a deliberately biased view)."""
    return [0 if bad in t else y for t, y in zip(texts, labels, strict=True)]


@pytest.fixture(scope="module")
def base() -> TwoStageDetector:
    texts, labels, _ = corpus(240, seed=0)
    return fast_detector(gate="lexicon").fit(texts, labels)


@pytest.fixture(scope="module")
def site() -> tuple[list[str], np.ndarray]:
    texts, labels, _ = corpus(300, seed=1)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def adapted(base: TwoStageDetector, site: tuple[list[str], np.ndarray]) -> SiteAdaptedDetector:
    return SiteAdaptedDetector(base=base, random_state=3).fit(*site)


def test_persist_round_trip_keeps_scores_and_card(
    adapted: SiteAdaptedDetector, tmp_path: object
) -> None:
    path = save_model(adapted, tmp_path / "site.skops")  # type: ignore[operator]
    loaded = load_model(path)
    assert isinstance(loaded, SiteAdaptedDetector)
    np.testing.assert_allclose(loaded.predict_proba(PROBES), adapted.predict_proba(PROBES))
    assert loaded.threshold_ == adapted.threshold_
    card = read_card(path)
    assert card["model"] == "crisis_triage.detector.SiteAdaptedDetector"
    assert card["site_labels"] == {"n": 300, "crises": 75, "not_crises": 225}
    assert "out-of-fold sensitivity" in card["threshold"]["how"]


def test_same_seed_same_model_and_other_seed_other_folds(
    base: TwoStageDetector, site: tuple[list[str], np.ndarray], adapted: SiteAdaptedDetector
) -> None:
    again = SiteAdaptedDetector(base=base, random_state=3).fit(*site)
    np.testing.assert_array_equal(again.oof_probability_, adapted.oof_probability_)
    assert again.threshold_ == adapted.threshold_
    other = SiteAdaptedDetector(base=base, random_state=4).fit(*site)
    assert not np.array_equal(other.oof_probability_, adapted.oof_probability_)


def test_explanation_keeps_base_reasons_and_adds_the_stackers(
    site: tuple[list[str], np.ndarray],
) -> None:
    texts, labels, _ = corpus(240, seed=0)
    base = fast_detector().fit(texts, labels)  # ungated: every message gets base n-grams
    adapted = SiteAdaptedDetector(base=base).fit(*site)
    mine = adapted.explain(PROBES)[0]
    theirs = base.explain(PROBES)[0]
    assert mine.lexicon_hits == theirs.lexicon_hits and mine.lexicon_hits
    assert mine.top_ngrams == theirs.top_ngrams and mine.top_ngrams
    reasons = mine.reasons()
    assert any(r.startswith("lexicon ") for r in reasons)
    assert any(r.startswith("site adaptation: base model log-odds") for r in reasons)
    assert mine.flagged and mine.probability == adapted.predict_proba(PROBES)[0, 1]


def test_refuses_too_few_crises_and_says_how_many(base: TwoStageDetector) -> None:
    texts, labels, _ = corpus(200, positive_every=40, seed=2)  # 5 crises
    with pytest.raises(AdaptationError, match=r"only 5 labelled crises: .* at least 10"):
        SiteAdaptedDetector(base=base).fit(texts, labels)
    with pytest.raises(AdaptationError, match="at least 15"):
        adapt(base, texts, labels)


def test_rejects_an_unfitted_base() -> None:
    texts, labels, _ = corpus(120, seed=2)
    with pytest.raises(AdaptationError, match="fitted TwoStageDetector"):
        SiteAdaptedDetector(base=fast_detector()).fit(texts, labels)


def test_adaptation_repairs_a_base_model_blind_to_domestic_violence() -> None:
    texts, labels, _ = corpus(240, seed=0)
    # Blind to "hits me" and alarmed by figurative "killing me" (traffic).
    biased = [1 if "traffic" in t else y for t, y in zip(texts, labels, strict=True)]
    blind = fast_detector().fit(texts, _relabel(texts, biased, "hits me"))
    site_texts, site_labels, _ = corpus(400, seed=5)
    _, report = adapt(blind, site_texts, site_labels, n_bootstrap=30)
    assert report.base["auroc"]["value"] < 0.95
    assert report.adapted["auroc"]["value"] > report.base["auroc"]["value"] + 0.03
    assert report.adapted["sensitivity"]["value"] >= 0.9
    assert report.adapted["ppv"]["value"] > report.base["ppv"]["value"] + 0.1
    assert report.difference["auroc"]["ci95"][0] > 0


def test_a_lowered_lexicon_flag_is_said_and_can_be_forbidden(base: TwoStageDetector) -> None:
    # This site does not treat "hits me" as a crisis for this queue; the base model does.
    texts, labels, _ = corpus(300, seed=6)
    site_labels = _relabel(texts, labels, "hits me")
    probe = ["ok my husband hits me when he drinks so"]
    assert base.predict(probe)[0] == 1
    lowered = SiteAdaptedDetector(base=base).fit(texts, site_labels).explain(probe)[0]
    assert not lowered.flagged
    assert any("lowered this message below the threshold" in r for r in lowered.reasons())
    kept = SiteAdaptedDetector(base=base, keep_base_flags=True).fit(texts, site_labels)
    assert kept.predict(probe)[0] == 1
    assert "never scored below the threshold" in kept.card_["lexicon_gate"]


def test_a_flag_rate_cap_that_binds_raises_the_threshold_and_warns(
    base: TwoStageDetector, site: tuple[list[str], np.ndarray]
) -> None:
    # A quarter of these messages are crises, so sensitivity 0.95 needs a flag rate >= 0.24.
    capped = SiteAdaptedDetector(base=base, max_flag_rate=0.1, random_state=3).fit(*site)
    assert (capped.oof_probability_ >= capped.threshold_).mean() <= 0.1 + 0.05  # ties
    assert "would flag" in capped.card_["warnings"][0]
    free = SiteAdaptedDetector(base=base, random_state=3).fit(*site)
    assert free.threshold_ < capped.threshold_ and not free.card_["warnings"]
