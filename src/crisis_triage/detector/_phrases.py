"""What a clinician reads in an explanation: phrases and sentences, not pronouns.

An n-gram made only of function words ("i", "my", "been", "de", "que") says nothing a person
can act on, so explanations drop it; the sentence that carries the most risk is found by
scoring each sentence on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from crisis_triage.detector._features import CHAR_PREFIX

# Spanish function words (articles, pronouns, prepositions, auxiliaries), written by us.
_SPANISH_FUNCTION_WORDS = frozenset(
    [
        "a",
        "al",
        "algo",
        "alguien",
        "algun",
        "alguna",
        "algunas",
        "alguno",
        "algunos",
        "ante",
        "antes",
        "aqui",
        "asi",
        "aun",
        "bien",
        "cada",
        "como",
        "con",
        "contra",
        "cual",
        "cuales",
        "cuando",
        "de",
        "del",
        "desde",
        "donde",
        "dos",
        "e",
        "el",
        "ella",
        "ellas",
        "ello",
        "ellos",
        "en",
        "entre",
        "era",
        "eran",
        "es",
        "esa",
        "esas",
        "ese",
        "eso",
        "esos",
        "esta",
        "estaba",
        "estaban",
        "estado",
        "estamos",
        "estan",
        "estar",
        "estas",
        "este",
        "esto",
        "estos",
        "estoy",
        "fue",
        "fueron",
        "fui",
        "ha",
        "habia",
        "han",
        "has",
        "hasta",
        "hay",
        "he",
        "la",
        "las",
        "le",
        "les",
        "lo",
        "los",
        "mas",
        "me",
        "mi",
        "mia",
        "mis",
        "mismo",
        "mucho",
        "muy",
        "nada",
        "ni",
        "nos",
        "nosotros",
        "o",
        "os",
        "otra",
        "otro",
        "para",
        "pero",
        "poco",
        "por",
        "porque",
        "que",
        "quien",
        "se",
        "sea",
        "ser",
        "si",
        "sido",
        "sin",
        "sobre",
        "solo",
        "son",
        "su",
        "sus",
        "tambien",
        "te",
        "tengo",
        "tiene",
        "tienen",
        "todo",
        "todos",
        "tu",
        "tus",
        "un",
        "una",
        "uno",
        "unos",
        "usted",
        "ustedes",
        "va",
        "vamos",
        "voy",
        "y",
        "ya",
        "yo",
    ]
)
# Chat spellings and contractions that normalisation leaves as tokens.
_EXTRA_FUNCTION_WORDS = frozenset(
    [
        "im",
        "i'm",
        "ive",
        "i've",
        "id",
        "i'd",
        "ill",
        "i'll",
        "dont",
        "don't",
        "cant",
        "can't",
        "its",
        "it's",
        "just",
        "really",
        "like",
        "get",
        "got",
        "u",
        "ur",
        "r",
        "gonna",
        "wanna",
        "know",
        "think",
        "thing",
        "things",
        "feel",
        "feeling",
        "lot",
        "also",
        "even",
        "still",
        "ok",
        "okay",
    ]
)
FUNCTION_WORDS = frozenset(ENGLISH_STOP_WORDS) | _SPANISH_FUNCTION_WORDS | _EXTRA_FUNCTION_WORDS

_WORD = re.compile(r"[^\W\d_][\w'-]*")
_SENTENCE_END = re.compile(r"[.!?;\n]+|\s+(?:but|pero)\s+", re.IGNORECASE)
_MIN_SENTENCE_CHARS = 3


def is_informative(ngram: str) -> bool:
    """True for a word n-gram with at least one content word (not only pronouns, punctuation
    and the like).  Character n-grams ("[char] pil") are never shown: they are fragments."""
    if ngram.startswith(CHAR_PREFIX):
        return False
    return any(_WORD.fullmatch(word) and word not in FUNCTION_WORDS for word in ngram.split())


def informative(pushes: Iterable[tuple[str, float]], k: int) -> tuple[tuple[str, float], ...]:
    """The ``k`` largest informative pushes towards a crisis, each phrase once."""
    kept: list[tuple[str, float]] = []
    for ngram, weight in pushes:
        if weight <= 0 or not is_informative(ngram):
            continue
        if any(ngram in other for other, _ in kept):
            continue
        kept.append((ngram, weight))
        if len(kept) == k:
            break
    return tuple(kept)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or clause of ``text``, in its own character offsets.

    Clauses split at sentence punctuation, line breaks and "but"/"pero", because a disclosure
    after a denial ("I'm not suicidal but ...") must stand on its own.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b - a >= _MIN_SENTENCE_CHARS:
            out.append((a, b))
    return out
