"""The hand-written example CSVs (src/crisis_triage/training/examples) are well-formed, distinct
from one another and from the v2 safety suites, and their README's counts are current."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from written_suites import (
    LANGUAGES,
    SUITE_NAMES,
    counts_table,
    example_csv,
    load_examples,
    load_suite,
)

COLUMNS = ["text", "crisis", "crisis_type", "kind", "split"]
TYPES = ("SI", "HI", "NSSI", "DV", "OD")
# Minimum rows, crises and non-crises per language (the brief the examples were written to).
MINIMUM = {"en": (350, 170, 180), "es": (400, 170, 200)}
# Word-set overlap above which two messages count as the same sentence reworded.
NEAR_DUPLICATE = 0.6


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.casefold()))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.fixture(scope="module", params=LANGUAGES)
def examples(request: pytest.FixtureRequest) -> pd.DataFrame:
    return load_examples(request.param).assign(language=request.param)


@pytest.fixture(scope="module")
def all_examples() -> pd.DataFrame:
    return pd.concat([load_examples(language) for language in LANGUAGES], ignore_index=True)


def test_columns_and_sizes(examples: pd.DataFrame) -> None:
    language = examples["language"].iloc[0]
    assert list(examples.columns[:-1]) == COLUMNS
    rows, crises, others = MINIMUM[language]
    assert len(examples) >= rows
    assert (examples["crisis"] == "1").sum() >= crises
    assert (examples["crisis"] == "0").sum() >= others


def test_label_values(examples: pd.DataFrame) -> None:
    assert set(examples["crisis"]) == {"0", "1"}
    assert set(examples["split"]) == {"train", "test"}
    texts = examples["text"]
    assert (texts.str.strip() == texts).all() and (texts.str.len() > 0).all()
    assert not texts.str.contains("\n").any()
    assert examples["kind"].str.fullmatch(r"[a-z0-9_]+").all()


def test_crisis_type_present_iff_crisis(examples: pd.DataFrame) -> None:
    crises = examples[examples["crisis"] == "1"]
    assert (examples.loc[examples["crisis"] == "0", "crisis_type"] == "").all()
    for crisis_type in crises["crisis_type"]:
        parts = crisis_type.split("/")
        assert parts and set(parts) <= set(TYPES), crisis_type
        assert parts == sorted(set(parts), key=TYPES.index), (
            f"{crisis_type}: not in SI/HI/... order"
        )


def test_each_kind_has_one_label_and_both_splits(examples: pd.DataFrame) -> None:
    for kind, rows in examples.groupby("kind"):
        assert rows["crisis"].nunique() == 1, f"{kind} mixes crises and non-crises"
        assert len(rows) >= 4, f"{kind}: too few rows to split"
        share = (rows["split"] == "test").mean()
        assert 0.2 <= share <= 0.5, f"{kind}: {share:.0%} of rows in test"
    assert 0.25 <= (examples["split"] == "test").mean() <= 0.35


def test_no_duplicate_texts(all_examples: pd.DataFrame) -> None:
    normalised = all_examples["text"].map(lambda t: " ".join(t.casefold().split()))
    assert not normalised.duplicated().any(), normalised[normalised.duplicated()].index.tolist()


def test_no_near_duplicates_within_a_language(examples: pd.DataFrame) -> None:
    words = [_words(text) for text in examples["text"]]
    close = [
        (i, j)
        for i in range(len(words))
        for j in range(i + 1, len(words))
        if _jaccard(words[i], words[j]) > NEAR_DUPLICATE
    ]
    assert not close, f"near-duplicate rows (0-based): {close}"


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_safety_suites_share_no_message_with_the_examples(
    all_examples: pd.DataFrame, suite: str
) -> None:
    example_words = [_words(text) for text in all_examples["text"]]
    cases = load_suite(suite)
    assert cases
    for case in cases:
        words = _words(case.text)
        rows = [
            i for i, other in enumerate(example_words) if _jaccard(words, other) > NEAR_DUPLICATE
        ]
        assert not rows, f"{case.case_id} repeats example rows {rows}"


def test_suites_have_several_messages_per_class_and_language() -> None:
    for suite in SUITE_NAMES:
        cases = load_suite(suite)
        counts = pd.Series([(c.language, c.group) for c in cases]).value_counts()
        assert {c.language for c in cases} == set(LANGUAGES)
        assert counts.min() >= 4, counts[counts < 4].to_dict()
        texts = [" ".join(c.text.casefold().split()) for c in cases]
        assert len(texts) == len(set(texts)), f"{suite} repeats a message"


def test_readme_counts_are_current() -> None:
    readme = (example_csv("en").parent / "README.md").read_text(encoding="utf-8")
    for language in LANGUAGES:
        assert counts_table(load_examples(language)) in readme, f"regenerate {language} table"
