"""The lexicon's per-text indexes answer exactly what the plain per-hit scans answer.

They exist so that a message with thousands of hits is matched in linear time (the plain scans
made ``"not kms " * 1000`` take minutes); these tests pin them to the plain definitions.
"""

from __future__ import annotations

import time

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


def test_many_hits_with_context_cues_match_in_linear_time() -> None:
    lexicon = Lexicon.load()
    timings = []
    for repeats in (500, 2000):
        text = "not kms my friend wants to kill herself " * repeats
        started = time.perf_counter()
        hits = lexicon.match(text)
        timings.append(time.perf_counter() - started)
        assert len(hits) >= repeats
    # Four times the text: about four times the time (quadratic would be sixteen).
    assert timings[1] < 10 * timings[0] + 0.5
