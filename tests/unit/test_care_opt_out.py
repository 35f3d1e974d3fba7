"""Which messages opt a patient out of caring contacts: the word on its own, any case, with
punctuation; a sentence that merely contains it is read and scored like any message."""

from __future__ import annotations

import pytest

from crisis_triage.care import is_opt_out


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "¡PARAR!", "alto", "Ａｌｔｏ"])
def test_the_word_on_its_own_opts_out(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text", ["please stop", "I can't stop crying", "stopped", "alto riesgo", "", "s t o p s"]
)
def test_a_sentence_with_the_word_does_not(text: str) -> None:
    assert not is_opt_out(text)
