"""The lexicon: validation of the data file, matching, context rules, hashes and the matcher."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crisis_triage.lexicon as lexicon_api
from crisis_triage.lexicon import (
    CATEGORIES,
    CONTEXT_EFFECTS,
    DEFAULT_LEXICON_PATH,
    Lexicon,
    LexiconError,
    LexiconHit,
)
from crisis_triage.lexicon._matcher import Matcher
from crisis_triage.text import normalise

BASE: dict[str, Any] = {
    "version": "9.9",
    "macros": {"me": "my ?self"},
    "entries": [
        {
            "id": "si-kill",
            "category": "SI",
            "pattern": "kill(?:ing)? {{me}}",
            "rationale": "test",
            "examples": ["i want to kill myself"],
        },
        {"id": "si-die", "category": "SI", "pattern": "wants? to die", "rationale": "test"},
        {"id": "dv-hit", "category": "DV", "pattern": "hits me", "rationale": "test"},
    ],
    "context_rules": [
        {
            "id": "neg",
            "effect": "negation",
            "pattern": "not|never",
            "direction": "before",
            "window": 2,
            "rationale": "test",
            "examples": ["i would never kill myself"],
        },
        {
            "id": "joke",
            "effect": "figurative",
            "pattern": "lol",
            "direction": "after",
            "window": 1,
            "applies_to": ["SI"],
            "rationale": "test",
        },
        {
            "id": "third",
            "effect": "other_person",
            "pattern": "my son",
            "direction": "before",
            "window": 3,
            "rationale": "test",
        },
        {
            "id": "past",
            "effect": "historical",
            "pattern": "years ago",
            "direction": "either",
            "window": 5,
            "rationale": "test",
        },
    ],
}


def make(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document.update(changes)
    return document


def with_entry(**fields: Any) -> dict[str, Any]:
    entry = {"id": "x", "category": "SI", "pattern": "xyz", "rationale": "r"} | fields
    return make(entries=[*BASE["entries"], entry])


def with_rule(**fields: Any) -> dict[str, Any]:
    rule = {"id": "r", "effect": "negation", "pattern": "no", "rationale": "r"} | fields
    return make(context_rules=[*BASE["context_rules"], rule])


@pytest.fixture(scope="module")
def small() -> Lexicon:
    return Lexicon.from_mapping(BASE)


@pytest.fixture(scope="module")
def bundled() -> Lexicon:
    return Lexicon.load()


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("document", "message"),
    [
        (with_entry(pattern="kill(myself"), "not a valid regex"),
        (with_entry(pattern="(kill) myself"), "capturing groups"),
        (with_entry(pattern="(?:kill)?"), "matches the empty string"),
        (with_entry(category="XX"), "category 'XX' is not one of"),
        (with_entry(id="si-kill"), "duplicate lexicon id 'si-kill'"),
        (with_entry(colour="red"), "unknown keys ['colour']"),
        (with_entry(rationale=""), "'rationale' must be a non-empty string"),
        (with_entry(examples="one"), "'examples' must be a list"),
        (with_entry(pattern="{{nope}} x"), "unknown macro {{nope}}"),
        (with_rule(effect="sarcasm"), "effect 'sarcasm' is not one of"),
        (with_rule(direction="sideways"), "direction must be one of"),
        (with_rule(window=99), "window must be a whole number"),
        (with_rule(window=True), "window must be a whole number"),
        (with_rule(applies_to=["SI", "XX"]), "applies_to has unknown categories ['XX']"),
        (with_rule(applies_to="SI"), "applies_to must be a list"),
        (with_rule(suppress="yes"), "suppress must be true or false"),
        (with_rule(scope="all"), "unknown keys ['scope']"),
        (with_rule(id="neg"), "duplicate lexicon id 'neg'"),
        (make(colour="red"), "unknown top-level keys ['colour']"),
        (make(version=""), "non-empty string 'version'"),
        (make(entries=[]), "has no entries"),
        (make(entries="all"), "'entries' must be a list"),
        (make(macros={"Bad-Name": "x"}), "macro 'Bad-Name'"),
        (make(macros={"m": "(x)"}), "capturing groups"),
        (["not", "a", "mapping"], "must be a mapping"),
    ],
)
def test_invalid_lexicons_are_refused_with_a_clear_message(document: Any, message: str) -> None:
    with pytest.raises(LexiconError) as caught:
        Lexicon.from_mapping(document)
    assert message in str(caught.value)


def test_error_names_the_entry(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="entry 'x'"):
        Lexicon.from_mapping(with_entry(pattern="kill(myself"))


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"version: [unclosed", "is not valid YAML"), (b"version: \xff\xfe\x00bad", "YAML|UTF-8")],
)
def test_unreadable_files_raise_lexicon_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_bytes(content)
    with pytest.raises(LexiconError, match=message):
        Lexicon.load(path)


def test_missing_file_raises_lexicon_error(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read lexicon file"):
        Lexicon.load(tmp_path / "absent.yaml")


def test_bundled_lexicon_is_valid_and_its_examples_hold(bundled: Lexicon) -> None:
    assert bundled.check_examples() == []
    assert bundled.example_count >= len(bundled.entries)
    assert {e.category for e in bundled.entries} == set(CATEGORIES)
    assert all(e.rationale and e.examples for e in bundled.entries)
    assert {r.effect for r in bundled.context_rules} == set(CONTEXT_EFFECTS)


def test_failing_examples_are_reported() -> None:
    document = make()
    document["entries"][1]["examples"] = ["i am fine"]
    document["context_rules"][1]["examples"] = ["i want to die"]
    problems = Lexicon.from_mapping(document).check_examples()
    assert problems == [
        "entry 'si-die': no active hit in example 'i am fine'",
        "context rule 'joke': no hit affected in 'i want to die'",
    ]


# -- version and hashes ---------------------------------------------------------------------------
def test_sha256_is_the_file_hash_and_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_bytes(DEFAULT_LEXICON_PATH.read_bytes())
    first = Lexicon.load(path)
    assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert first.version == Lexicon.load().version
    path.write_bytes(path.read_bytes() + b"\n# a comment\n")
    assert Lexicon.load(path).sha256 != first.sha256


def test_mapping_hash_is_deterministic_and_content_sensitive() -> None:
    assert Lexicon.from_mapping(make()).sha256 == Lexicon.from_mapping(make()).sha256
    assert Lexicon.from_mapping(make(version="9.10")).sha256 != Lexicon.from_mapping(make()).sha256
    assert Lexicon.from_mapping(make()).version == "9.9"


def test_macros_are_expanded_and_the_written_pattern_kept(small: Lexicon) -> None:
    entry = small.entries[0]
    assert entry.pattern == "kill(?:ing)? (?:my ?self)"
    assert entry.source_pattern == "kill(?:ing)? {{me}}"
    assert small.entries[1].source_pattern == ""  # nothing to expand


# -- matching -----------------------------------------------------------------------------------
def test_hits_are_whole_words_with_offsets_into_normalised_text(small: Lexicon) -> None:
    text = "I've been KILLING MYSELF"
    (hit,) = small.match(text)
    assert (hit.entry_id, hit.category, hit.active) == ("si-kill", "SI", True)
    assert normalise(text)[hit.start : hit.end] == hit.term == "killing myself"
    assert small.match("skill myself") == []
    assert small.match("kill myselfish") == []


def test_match_accepts_already_normalised_text(small: Lexicon) -> None:
    assert small.match("kill myself", normalised=True)[0].entry_id == "si-kill"


def test_categories_are_in_canonical_order(small: Lexicon) -> None:
    assert small.categories("he hits me and i want to die") == ("SI", "DV")
    assert small.categories("nothing here") == ()


# -- context rules ------------------------------------------------------------------------------
def test_negation_suppresses_but_keeps_the_hit(small: Lexicon) -> None:
    (hit,) = small.match("I would never kill myself")
    assert not hit.active
    assert (hit.suppressed_by, hit.effect) == ("neg", "negation")
    assert small.active_hits("I would never kill myself") == []
    assert "negation: neg" in hit.describe()


def test_window_limits_how_far_a_cue_reaches(small: Lexicon) -> None:
    assert not small.match("i would not kill myself")[0].active  # one word between
    assert small.match("i did not tell anyone i kill myself")[0].active  # four words between


def test_clause_end_and_but_stop_a_cue(small: Lexicon) -> None:
    assert small.match("i am not ok. i want to die")[0].active
    assert small.match("i am not happy but i want to die")[0].active


def test_direction_and_applies_to(small: Lexicon) -> None:
    assert not small.match("i want to die lol")[0].active  # after, SI
    assert small.match("lol i want to die")[0].active  # the rule looks after the term only
    assert small.match("he hits me lol")[0].active  # the joke rule is for SI only


def test_third_party_and_history_annotate_without_suppressing(small: Lexicon) -> None:
    (hit,) = small.match("my son said he wants to die")
    assert hit.active
    assert hit.annotations == (("third", "other_person"),)
    (hit,) = small.match("years ago i tried to kill myself")
    assert hit.active and hit.effects == ("historical",)
    assert "[historical: past]" in hit.describe()


def test_suppress_can_be_set_per_rule() -> None:
    lexicon = Lexicon.from_mapping(
        with_rule(id="media", effect="other_person", pattern="in the movie", suppress=True)
    )
    (hit,) = lexicon.match("in the movie he hits me")
    assert (hit.suppressed_by, hit.effect) == ("media", "other_person")
    annotate = Lexicon.from_mapping(with_rule(id="soft", effect="negation", suppress=False))
    (hit,) = annotate.match("no want to die")
    assert hit.active and hit.annotations == (("soft", "negation"),)


def test_first_listed_suppressing_rule_wins_and_overlapping_cues_all_count() -> None:
    lexicon = Lexicon.from_mapping(
        with_rule(id="later", effect="hypothetical", pattern="never ever", window=3)
    )
    (hit,) = lexicon.match("never ever want to die")
    assert hit.suppressed_by == "neg"  # "neg" is listed first; both cues start at "never"
    overlapping = Lexicon.from_mapping(
        make(
            context_rules=[
                {
                    "id": "a",
                    "effect": "historical",
                    "pattern": "years",
                    "suppress": False,
                    "direction": "before",
                    "window": 6,
                    "rationale": "r",
                },
                {
                    "id": "b",
                    "effect": "other_person",
                    "pattern": "years ago my son",
                    "direction": "before",
                    "window": 6,
                    "rationale": "r",
                },
            ]
        )
    )
    (hit,) = overlapping.match("years ago my son said want to die")
    assert hit.annotations == (("a", "historical"), ("b", "other_person"))


def test_hit_value_object() -> None:
    hit = LexiconHit("e", "SI", "t", 0, 1, annotations=(("r", "historical"),))
    assert hit.active and hit.effects == ("historical",)
    suppressed = LexiconHit("e", "SI", "t", 0, 1, "n", "negation", (("r", "historical"),))
    assert suppressed.effects == ("negation", "historical")


def test_from_terms_builds_a_plain_word_list() -> None:
    lexicon = Lexicon.from_terms(["Kill myself", "kill  myself", "die", ""], version="t")
    assert len(lexicon.entries) == 2
    assert lexicon.context_rules == ()
    assert [h.term for h in lexicon.match("I'd rather die; not kill myself")] == [
        "die",
        "kill myself",
    ]  # no context rules: nothing is suppressed
    with pytest.raises(LexiconError):
        Lexicon.from_terms(["x"], version="t", category="XX")


# -- the fast matcher ---------------------------------------------------------------------------
def _plain(patterns: list[str]) -> re.Pattern[str]:
    body = "|".join(f"(?P<g{i}>{p})" for i, p in enumerate(patterns))
    return re.compile(r"(?<![\w])(?:" + body + r")(?![\w]|'\w)")


_WORDS = [
    "i", "want", "to", "die", "kill", "myself", "not", "he", "hits", "me", "my", "husband",
    "suicidal", "cut", "cutting", "self", "harm", "overdosed", "took", "a", "bottle", "of",
    "pills", "abusive", "never", "wake", "up", "no", "reason", "live", "sleep", "and", "the",
    "urge", "better", "off", "without", "dead", "wish", "was", "'d", "rather", ",", ".",
]  # fmt: skip


_PATTERNS = [e.pattern for e in Lexicon.load().entries]
_PLAIN = _plain(_PATTERNS)
_MATCHER = Matcher(_PATTERNS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=25))
def test_matcher_finds_exactly_what_the_plain_alternation_finds(words: list[str]) -> None:
    text = normalise(" ".join(words))
    expected = [(m.start(), m.end(), int(str(m.lastgroup)[1:])) for m in _PLAIN.finditer(text)]
    got = [(m.start(), m.end(), _MATCHER.index(m)) for m in _MATCHER.matches(text)]
    assert got == expected


def test_matcher_falls_back_for_patterns_it_cannot_index() -> None:
    patterns = [r"\w*ache", "head", r"(?i:shout)"]
    matcher = Matcher(patterns)
    text = "my headache and a head and SHOUT"
    got = [(m.group(), matcher.index(m)) for m in matcher.matches(text)]
    assert got == [("headache", 0), ("head", 1), ("SHOUT", 2)]


def test_overlapping_matcher_reports_every_pattern_at_a_position() -> None:
    matcher = Matcher(["rate", "rate of", "of"], overlapping=True)
    found = [index for m in matcher.matches("the rate of x") for index, _, _ in matcher.indices(m)]
    assert sorted(found) == [0, 1, 2]


# -- public API ---------------------------------------------------------------------------------
def test_public_api_is_complete() -> None:
    defined = {
        name
        for name, value in vars(lexicon_api).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith(lexicon_api.__name__)
    }
    assert defined <= set(lexicon_api.__all__)
    assert all(hasattr(lexicon_api, name) for name in lexicon_api.__all__)


def test_macros_may_refer_to_each_other_in_any_order_but_not_in_a_cycle() -> None:
    lexicon = Lexicon.from_mapping(
        make(
            macros={"b": "{{a}} now", "a": "want to"},
            entries=[{"id": "e", "category": "SI", "pattern": "i {{b}}", "rationale": "r"}],
        )
    )
    assert lexicon.entries[0].pattern == "i (?:(?:want to) now)"
    with pytest.raises(LexiconError, match="refers to itself"):
        Lexicon.from_mapping(make(macros={"a": "{{b}}", "b": "x{{a}}"}))


_STEMS = [r"\w*kill mys\w*", r"\w*die\w*", r"hang\w*", "988", "end it", r"\w*ache"]
_STEM_WORDS = ["skill", "kill", "mysterious", "myself", "diet", "studied", "hangover", "hang",
               "988", "9880", "end", "it", "headache", "ache", "a", ",", "'s"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_STEM_WORDS), max_size=15))
def test_matcher_handles_stems_inside_words_like_the_plain_alternation(words: list[str]) -> None:
    text = " ".join(words)
    plain = _plain(_STEMS)
    expected = [(m.start(), m.end(), int(str(m.lastgroup)[1:])) for m in plain.finditer(text)]
    matcher = Matcher(_STEMS)
    assert [(m.start(), m.end(), matcher.index(m)) for m in matcher.matches(text)] == expected


_CONTEXT_WORDS = [*_WORDS, "my", "son", "lol", "years", "ago", "what", "are", "signs", "of",
                  "news", "accidentally", "people", "who", "than", "go", "it", "hit"]  # fmt: skip
_BUNDLED = Lexicon.load()
_UNBOUNDED = Lexicon.load()
object.__setattr__(_UNBOUNDED, "_reach", None)  # scan whole clauses for cues


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_CONTEXT_WORDS), min_size=20, max_size=80))
def test_scanning_only_near_hits_finds_the_same_context(words: list[str]) -> None:
    text = " ".join(words)
    assert _BUNDLED.match(text) == _UNBOUNDED.match(text)


def test_pickling_keeps_only_the_data_and_rebuilds_the_matchers() -> None:
    import pickle

    restored = pickle.loads(pickle.dumps(_BUNDLED))  # noqa: S301 - our own object
    assert restored == _BUNDLED and restored.sha256 == _BUNDLED.sha256
    assert restored.match("i'm not suicidal but i want to die") == _BUNDLED.match(
        "i'm not suicidal but i want to die"
    )
    assert "_terms" not in _BUNDLED.__getstate__()
