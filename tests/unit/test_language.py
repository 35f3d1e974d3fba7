"""Language identification, and the rule that a model never scores a language it does not
cover: such a message is flagged for a person with no probability."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from service_fakes import FakeScorer

from crisis_triage.detector import (
    UNSUPPORTED_LANGUAGE,
    Explanation,
    model_languages,
    score_messages,
)
from crisis_triage.text import UNDETERMINED, _language, detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I don't want to be here anymore, I am so tired of everything", "en"),
        ("Hola, no quiero vivir más, estoy muy cansada de todo", "es"),
        ("Je ne veux plus vivre, je suis tellement fatiguée de tout", "fr"),
        ("Ich will nicht mehr leben, ich bin so müde von allem", "de"),
    ],
)
def test_clear_sentences_are_identified_reliably(text: str, code: str) -> None:
    guess = detect_language(text)
    assert (guess.code, guess.reliable) == (code, True)
    assert 0.9 <= guess.confidence <= 1.0


@pytest.mark.parametrize("text", ["ok", "help me", "Merci beaucoup", "", "   ", "!!! 123 ???"])
def test_short_or_letterless_texts_are_undetermined(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == UNDETERMINED
    assert guess.reliable is False
    assert 0.0 <= guess.confidence <= 1.0


def test_a_mixed_message_is_not_called_one_language() -> None:
    guess = detect_language("I took all my pills tonight, lo siento mamá, ya no puedo más")
    assert guess.code in (UNDETERMINED, "en", "es")


def test_a_very_long_text_is_judged_on_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the first few thousand characters reach the identifier, so a long letter costs what
    a short one does (its speed is measured in benchmarks/ingest_window.py)."""
    identifier = _language._identifier()
    seen: list[int] = []

    class Recording:
        def classify(self, text: str) -> tuple[str, float]:
            seen.append(len(text))
            return identifier.classify(text)  # type: ignore[no-any-return]

    monkeypatch.setattr(_language, "_identifier", Recording)
    letter = (
        "Je ne sais plus quoi faire. Depuis des semaines je garde mes médicaments dans un "
        "tiroir et ce soir je pense à tout prendre. Personne ne comprendrait. "
    )
    guess = detect_language(letter * 1000)
    assert guess.code == "fr"
    assert seen and max(seen) <= 4000 < len(letter * 1000)


class _Bilingual(FakeScorer):
    languages_ = ("en", "es")


class _Counting(FakeScorer):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        self.seen += list(texts)
        return super().explain(texts)


FRENCH = "Je vais prendre toutes mes pilules ce soir, je veux en finir"
SPANISH = "Voy a tomar todas mis pastillas esta noche, quiero terminar con todo"


def test_models_without_languages_cover_english_only() -> None:
    assert model_languages(FakeScorer()) == ("en",)
    assert model_languages(_Bilingual()) == ("en", "es")
    assert model_languages(type("Odd", (), {"languages_": "en"})()) == ("en",)


def test_a_message_in_an_uncovered_language_is_flagged_for_a_person_not_scored() -> None:
    model = _Counting()
    rows = score_messages(model, ["I took an overdose of my pills last night", FRENCH, "ok"])
    english, french, short = rows
    assert french.status == UNSUPPORTED_LANGUAGE
    assert french.probability is None and french.flagged is True
    assert french.reasons == ("language not supported (detected: fr): review by a person",)
    assert french.language == "fr"
    assert FRENCH not in model.seen  # never given to the model
    assert (english.status, english.language, english.flagged) == ("scored", "en", True)
    assert (short.status, short.language) == ("scored", UNDETERMINED)
    assert short.probability is not None  # short texts are scored, never sent away


def test_a_covered_second_language_is_scored() -> None:
    (row,) = score_messages(_Bilingual(), [SPANISH])
    assert (row.status, row.language) == ("scored", "es")
    assert row.probability is not None


def test_missing_and_overlong_texts_keep_their_policy() -> None:
    rows = score_messages(FakeScorer(), [None, "x" * 50, FRENCH * 3], max_chars=100)
    assert [r.status for r in rows] == ["missing", "scored", "too_long"]
