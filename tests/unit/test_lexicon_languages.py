"""Lexicon 2.0: languages, accent-insensitive matching, denial scope, rules for entry ids and
the evidence view the detector reads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisis_triage.lexicon import LANGUAGES, Lexicon, LexiconError
from crisis_triage.text import fold_accents, normalise

DOCUMENT: dict[str, Any] = {
    "version": "t",
    "entries": [
        {"id": "en-die", "category": "SI", "pattern": "want to die", "rationale": "r"},
        {"id": "en-pills", "category": "OD", "pattern": "took 20 pills", "rationale": "r"},
        {"id": "en-hom", "category": "HI", "pattern": "homicidal", "rationale": "r"},
        {"id": "en-sui", "category": "SI", "pattern": "suicidal", "rationale": "r"},
        {"id": "en-phone", "category": "DV", "pattern": "takes my phone", "rationale": "r"},
        {"id": "en-hits", "category": "DV", "pattern": "hits me", "rationale": "r"},
        {"id": "es-morir", "lang": "es", "category": "SI", "pattern": "morirme", "rationale": "r"},
        {"id": "es-dano", "lang": "es", "category": "NSSI", "pattern": "hacerme daño",
         "rationale": "r"},
    ],
    "context_rules": [
        {"id": "neg-en", "effect": "negation", "pattern": "not|no", "window": 2, "rationale": "r"},
        {"id": "neg-es", "lang": "es", "effect": "negation", "pattern": "jamás|nunca",
         "window": 3, "rationale": "r"},
        {"id": "discipline", "effect": "conflict", "pattern": "as punishment",
         "direction": "after", "window": 2, "applies_to": ["en-phone"], "rationale": "r"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_mapping(DOCUMENT)


def test_entries_and_rules_default_to_english_and_spanish_is_known(lexicon: Lexicon) -> None:
    assert LANGUAGES == ("en", "es")
    assert [e.lang for e in lexicon.entries][:2] == ["en", "en"]
    assert lexicon.context_rules[1].lang == "es"
    (hit,) = lexicon.match("quiero morirme")
    assert (hit.entry_id, hit.lang) == ("es-morir", "es")


@pytest.mark.parametrize("where", ["entries", "context_rules"])
def test_an_unknown_language_is_refused(where: str) -> None:
    document = {**DOCUMENT, where: [{**DOCUMENT[where][0], "lang": "fr"}]}
    with pytest.raises(LexiconError, match="lang 'fr' is not one of en, es"):
        Lexicon.from_mapping(document)


def test_accents_are_ignored_on_both_sides_and_spans_keep_them(lexicon: Lexicon) -> None:
    for text in ["quiero hacerme daño", "quiero hacerme dano", "QUIERO HACERME DAÑO"]:
        (hit,) = lexicon.match(text)
        assert hit.entry_id == "es-dano"
        assert normalise(text)[hit.start : hit.end] == hit.term
    assert lexicon.match("quiero morírme")[0].term == "morírme"


def test_a_rule_only_reads_hits_in_its_own_language(lexicon: Lexicon) -> None:
    assert not lexicon.match("jamás quiero morirme")[0].active  # Spanish denial
    assert lexicon.match("jamas i want to die")[0].active  # not an English cue
    assert lexicon.match("no morirme")[0].active  # "no" is only an English cue here


def test_a_rule_may_apply_to_one_entry(lexicon: Lexicon) -> None:
    (phone,) = lexicon.match("my mom takes my phone as punishment")
    assert (phone.active, phone.effect) == (False, "conflict")
    assert lexicon.match("my dad hits me as punishment")[0].active


def test_applies_to_names_must_be_categories_or_entry_ids() -> None:
    rule = {**DOCUMENT["context_rules"][2], "applies_to": ["en-nope"]}
    with pytest.raises(LexiconError, match=r"'discipline': applies_to has unknown .*en-nope"):
        Lexicon.from_mapping({**DOCUMENT, "context_rules": [rule]})


@pytest.mark.parametrize(
    ("text", "active"),
    [
        ("not suicidal, took 20 pills", ["en-pills"]),  # a comma ends the denial
        ("not suicidal took 20 pills", ["en-pills"]),  # so does another hit
        ("no suicidal or homicidal", []),  # unless "or" joins them
        ("not homicidal and suicidal", []),
        ("i do not want to die", []),  # a plain denial still works
        ("not: want to die", ["en-die"]),
    ],
)
def test_a_denial_covers_only_its_own_phrase(
    lexicon: Lexicon, text: str, active: list[str]
) -> None:
    assert [h.entry_id for h in lexicon.active_hits(text)] == active


def test_evidence_lists_each_hit_with_state_span_and_clause(lexicon: Lexicon) -> None:
    evidence = lexicon.evidence("I'm not suicidal. But he hits me; jamás quiero morirme")
    states = [(h.entry_id, h.lang, h.state, h.rule_id) for h in evidence.hits]
    assert states == [
        ("en-sui", "en", "negation", "neg-en"),
        ("en-hits", "en", "active", None),
        ("es-morir", "es", "negation", "neg-es"),
    ]
    hit = evidence.hits[1]
    assert evidence.normalised[hit.start : hit.end] == "hits me"
    assert evidence.clause_text(hit) == "he hits me"
    assert evidence.features() == {
        "any_active": 1.0,
        "category=DV:active": 1.0,
        "category=SI:negation": 2.0,
        "entry=en-hits:active": 1.0,
        "entry=en-sui:negation": 1.0,
        "entry=es-morir:negation": 1.0,
        "lang=en": 2.0,
        "lang=es": 1.0,
    }
    assert lexicon.evidence("hello").features() == {}


def test_the_bundled_lexicon_covers_every_category_in_both_languages() -> None:
    bundled = Lexicon.load()
    assert bundled.version.startswith("2.")
    for lang in LANGUAGES:
        assert {e.category for e in bundled.entries if e.lang == lang} == {
            "SI",
            "HI",
            "NSSI",
            "DV",
            "OD",
        }
    assert all(e.examples and e.rationale for e in bundled.entries)


def test_fold_accents_keeps_length_and_non_latin_text() -> None:
    assert fold_accents("está mañana pingüino") == "esta manana pinguino"
    assert fold_accents("ascii only") == "ascii only"
    assert fold_accents("日本 😂 ß") == "日本 😂 ß"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fold_accents_is_one_character_for_one(text: str) -> None:
    folded = fold_accents(text)
    assert len(folded) == len(text)
    assert fold_accents(folded) == folded


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("i want to kil myslef", "i want to kill myself"),
        ("slef-harm again", "self harm again"),
        ("i feel suicdal.", "i feel suicidal."),
        ("cuttin my arms", "cutting my arms"),
        ("the pils", "the pills"),
        ("skill myself", "skill myself"),  # whole words only
    ],
)
def test_normalise_reads_misspelt_crisis_words(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
