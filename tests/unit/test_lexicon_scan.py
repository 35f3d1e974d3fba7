"""The lexicon's per-text indexes answer exactly what the plain per-hit scans answer.

They exist so that a message with thousands of hits is matched in linear time (the plain scans
made ``"not kms " * 1000`` take minutes); these tests pin them to the plain definitions.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisis_triage.lexicon import Lexicon
from crisis_triage.lexicon._scan import WORD, ClauseEnds, WordIndex, clause_bounds

PIECES = ["but", "butter", "however", "though", " ", "  ", "!", "!!", ".", "?;", "\n", "kms",
          "i want to die", "not", "never", "my friend", "a", "bu", "t", ",", "joking"]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(texts, st.data())
def test_clause_ends_give_the_plain_clause_bounds(text: str, data: st.DataObject) -> None:
    index = ClauseEnds(text)
    for _ in range(5):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        assert index.bounds(start, end) == clause_bounds(text, start, end)


@settings(max_examples=500, deadline=None)
@given(texts, st.data())
def test_word_index_counts_what_findall_finds(text: str, data: st.DataObject) -> None:
    index = WordIndex(text)
    start = data.draw(st.integers(0, len(text)))
    stop = data.draw(st.integers(0, len(text)))
    assert index.count(start, stop) == len(WORD.findall(text, start, stop))


def test_many_hits_with_context_cues_do_work_per_hit_that_does_not_grow_with_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What keeps matching linear: the per-text indexes are built once, and each hit's cue
    region is bounded by the rules' reach, not by its (here punctuation-free, so whole-text)
    clause. Wall time is measured in benchmarks/text_speed.py, not here."""
    lexicon = Lexicon.load()
    built: Counter[str] = Counter()
    for index_class in (ClauseEnds, WordIndex):
        original_init = index_class.__init__

        def counting_init(self: object, text: str, _init=original_init) -> None:  # type: ignore[no-untyped-def]
            built[type(self).__name__] += 1
            _init(self, text)

        monkeypatch.setattr(index_class, "__init__", counting_init)
    regions: list[tuple[int, int]] = []
    original_find_cues = Lexicon._find_cues

    def recording_find_cues(self: Lexicon, text: str, spans: list[tuple[int, int]]) -> object:
        regions.extend(spans)
        return original_find_cues(self, text, spans)

    monkeypatch.setattr(Lexicon, "_find_cues", recording_find_cues)

    widest = []
    for repeats in (500, 2000):
        built.clear()
        regions.clear()
        text = "not kms my friend wants to kill herself " * repeats
        hits = lexicon.match(text)
        assert len(hits) >= repeats
        assert len(regions) == len(hits)
        assert built == {"ClauseEnds": 1, "WordIndex": 1}
        widest.append(max(stop - start for start, stop in regions))
    assert widest[0] == widest[1] < 500  # four times the text, the same bounded window per hit
