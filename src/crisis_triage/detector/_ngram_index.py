"""Find which vocabulary n-grams of a fitted TfidfVectorizer occur in each text, fast.

A block answers one question for a batch of texts: which vocabulary columns occur in which
text, once per occurrence, exactly as ``vectorizer.transform`` would count them. Three ways:

- word n-grams: tokens become integer keys and the vocabulary becomes a trie over them, so
  an n-gram is extended only while some vocabulary term starts with it (most stop at one
  or two tokens); the walk runs level by level over the whole batch in numpy;
- ``char_wb`` n-grams: they never cross whitespace, so each word's columns are cached;
- anything else: the vectorizer's own analyzer, then a vocabulary lookup (exact, slower).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from crisis_triage.text import tokenise

IntArray = npt.NDArray[np.int64]
_CACHE_LIMIT = 1 << 16
_DEFAULT_WORD_PATTERN = r"(?u)\b\w\w+\b"  # TfidfVectorizer's default token_pattern


def _cached(function: Callable[[str], Any]) -> Callable[[str], Any]:
    """``function`` with a bounded least-recently-used cache (text fragments repeat a lot)."""
    return lru_cache(maxsize=_CACHE_LIMIT)(function)


def _flatten(per_doc: Sequence[Sequence[int]]) -> tuple[IntArray, IntArray]:
    """(doc index, value) arrays for a list of per-document value lists."""
    lengths = np.fromiter(map(len, per_doc), dtype=np.int64, count=len(per_doc))
    values = np.fromiter(chain.from_iterable(per_doc), dtype=np.int64, count=int(lengths.sum()))
    docs = np.repeat(np.arange(len(per_doc), dtype=np.int64), lengths)
    return docs, values


class IntHashMap:
    """A read-only hash map from non-negative int64 keys to int64 values, queried in bulk.

    Open addressing with linear probing in two numpy arrays (no wrap-around: the tables
    have spare slots at the end). Every key sits at most ``reach`` slots after its home
    slot, so a lookup reads the home slot and, for the few that collided, one window of
    ``reach`` slots. Much faster than ``np.searchsorted`` on a sorted array of a million
    keys, whose binary search misses the CPU cache at every step.
    """

    _EMPTY = -1
    # Fibonacci hashing: the top bits of key * 0x9E3779B97F4A7C15 (mod 2**64), computed in
    # int64 (wrapping) so no conversion to unsigned is needed.
    _MULTIPLIER = np.int64(0x9E3779B97F4A7C15 - (1 << 64))
    _WINDOW_LIMIT = 512  # up to this many collided queries, check their whole window at once

    def __init__(self, keys: IntArray, values: IntArray) -> None:
        bits = max(len(keys).bit_length() + 1, 4)  # load factor at most 1/2
        self._shift = np.int64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        size = (1 << bits) + len(keys)  # room to probe past the last home slot
        self._keys = np.full(size, self._EMPTY, dtype=np.int64)
        self._values = np.full(size, self._EMPTY, dtype=np.int64)
        home = self._slots(keys)
        slots = home.copy()
        pending = np.arange(len(keys))
        while pending.size:
            free = self._keys[slots[pending]] == self._EMPTY
            candidates = pending[free]
            _, first = np.unique(slots[candidates], return_index=True)
            placed = candidates[first]  # one key per free slot in this round
            self._keys[slots[placed]] = keys[placed]
            self._values[slots[placed]] = values[placed]
            waiting = np.ones(len(keys), dtype=bool)
            waiting[placed] = False
            pending = pending[waiting[pending]]
            slots[pending] += 1
        self.reach = int((slots - home).max()) if len(keys) else 0
        self._window = np.arange(1, self.reach + 1)

    def _slots(self, keys: IntArray) -> IntArray:
        hashed: IntArray = ((keys * self._MULTIPLIER) >> self._shift) & self._mask
        return hashed

    def get(self, queries: IntArray) -> IntArray:
        """The value of each query key, or -1 where the key is absent."""
        slots = self._slots(queries)
        found = self._keys.take(slots)
        hit = found == queries
        out = np.where(hit, self._values.take(slots), self._EMPTY)
        pending = (~hit & (found != self._EMPTY)).nonzero()[0]
        while pending.size > self._WINDOW_LIMIT:  # large batches: probe slot by slot
            probe = slots[pending] + 1
            slots[pending] = probe
            found = self._keys.take(probe)
            hit = found == queries[pending]
            out[pending[hit]] = self._values.take(probe[hit])
            pending = pending[~hit & (found != self._EMPTY)]
        if pending.size and self.reach:  # the rest: their remaining windows in one step
            window = slots[pending, None] + self._window
            match = self._keys.take(window) == queries[pending, None]
            hit = match.any(axis=1)
            out[pending[hit]] = self._values.take(window[hit, match[hit].argmax(axis=1)])
        return out


class _Block:
    """What every block offers; ``prepare`` output is shared by blocks with equal keys."""

    prepare_key: object

    def prepare(self, text: str) -> str:
        return text

    def columns(self, prepared: Sequence[str]) -> list[list[int]]:
        """Per text, the column of every vocabulary n-gram occurrence."""
        raise NotImplementedError

    def occurrences(self, prepared: Sequence[str]) -> tuple[IntArray, IntArray]:
        """The same as flat (text index, column) arrays; faster for large batches."""
        return _flatten(self.columns(prepared))

    def clear_cache(self) -> None:
        """Forget cached words or pieces."""


class AnalyzerBlock(_Block):
    """Any vectorizer: run its own analyzer, look each n-gram up in the vocabulary."""

    prepare_key = "raw text"

    def __init__(self, vectorizer: Any) -> None:
        self._analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_

    def columns(self, prepared: Sequence[str]) -> list[list[int]]:
        get = self._vocabulary.get
        return [
            [col for col in map(get, self._analyze(text)) if col is not None] for text in prepared
        ]


class CharWbBlock(_Block):
    """``analyzer="char_wb"``: the columns of each whitespace-separated word, cached."""

    def __init__(self, vectorizer: Any) -> None:
        self.prepare = vectorizer.build_preprocessor()  # type: ignore[method-assign]
        self.prepare_key = _preprocessor_key(vectorizer)
        self._min_n, self._max_n = vectorizer.ngram_range
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._words = _cached(self._word_columns)

    def clear_cache(self) -> None:
        self._words = _cached(self._word_columns)

    def _word_columns(self, word: str) -> tuple[int, ...]:
        # The n-grams sklearn's char_wb analyzer makes for one word, padded with spaces.
        padded = f" {word} "
        size = len(padded)
        get = self._vocabulary.get
        found: list[int] = []
        for n in range(self._min_n, self._max_n + 1):
            grams = [padded[i : i + n] for i in range(max(size - n, 0) + 1)]
            found += [col for col in map(get, grams) if col is not None]
            if size <= n:  # a short word is counted once, not once per n
                break
        return tuple(found)

    def columns(self, prepared: Sequence[str]) -> list[list[int]]:
        words = self._words
        return [list(chain.from_iterable(map(words, text.split()))) for text in prepared]


class WordTrieBlock(_Block):
    """``analyzer="word"`` with a tokenizer whose tokens never contain a space."""

    def __init__(self, vectorizer: Any) -> None:
        self.prepare = vectorizer.build_preprocessor()  # type: ignore[method-assign]
        self.prepare_key = _preprocessor_key(vectorizer)
        self._tokenize: Callable[[str], list[str]] = vectorizer.build_tokenizer()
        self._piecewise = vectorizer.tokenizer is tokenise
        stop_words = vectorizer.get_stop_words()
        self._stop_words = frozenset(stop_words) if stop_words is not None else frozenset()
        self._min_n, self._max_n = vectorizer.ngram_range
        self._build(vectorizer.vocabulary_)
        self._pieces = _cached(self._piece_keys)

    def clear_cache(self) -> None:
        self._pieces = _cached(self._piece_keys)

    def _build(self, vocabulary: dict[str, int]) -> None:
        # Nodes are vocabulary columns; a prefix that is not itself a term (possible with
        # max_df, max_features or min_n > 1) gets an extra node numbered after them.
        self.n_features = len(vocabulary)
        extra: dict[str, int] = {}
        for term in vocabulary:
            prefix = term
            while " " in prefix:
                prefix = prefix.rsplit(" ", 1)[0]
                if prefix in vocabulary or prefix in extra:
                    break
                extra[prefix] = len(vocabulary) + len(extra)
        nodes = vocabulary | extra if extra else vocabulary
        self._nodes = nodes
        token_keys: dict[str, int] = {}
        parents: list[int] = []
        lasts: list[int] = []
        children: list[int] = []
        for gram, node in nodes.items():
            head, _, last = gram.rpartition(" ")
            key = token_keys.setdefault(last, len(token_keys))
            if head:
                parents.append(nodes[head])
                lasts.append(key)
                children.append(node)
        self._token_keys = token_keys
        self._has_extra = bool(extra)
        # Key len(token_keys) stands for any unknown token; it ends no n-gram, so a query
        # (node, unknown) never matches a child.
        self._n_keys = len(token_keys) + 1
        first = np.full(len(token_keys) + 1, -1, dtype=np.int64)
        for token, key in token_keys.items():
            first[key] = nodes.get(token, -1)
        self._first = first
        child_keys = np.asarray(parents, dtype=np.int64) * self._n_keys + np.asarray(
            lasts, dtype=np.int64
        )
        self._children = IntHashMap(child_keys, np.asarray(children, dtype=np.int64))
        self._has_children = bool(children)

    def _token_key_list(self, tokens: list[str]) -> list[int]:
        unknown = len(self._token_keys)
        get = self._token_keys.get
        stop = self._stop_words
        return [get(token, unknown) for token in tokens if token not in stop]

    def _piece_keys(self, piece: str) -> tuple[int, ...]:
        return tuple(self._token_key_list(self._tokenize(piece)))

    def _doc_keys(self, text: str) -> Iterator[int] | list[int]:
        if self._piecewise:  # tokenise() works space-separated piece by piece
            return chain.from_iterable(map(self._pieces, text.split(" ")))
        return self._token_key_list(self._tokenize(text))

    def columns(self, prepared: Sequence[str]) -> list[list[int]]:
        return [self._walk(text) for text in prepared]

    def occurrences(self, prepared: Sequence[str]) -> tuple[IntArray, IntArray]:
        return self._walk_batch(prepared)

    def _walk(self, text: str) -> list[int]:
        """One text's term columns, by extending each n-gram while it is a vocabulary prefix."""
        tokens = self._tokenize(text)
        if self._stop_words:
            tokens = [token for token in tokens if token not in self._stop_words]
        get = self._nodes.get
        n_features, min_n, max_n = self.n_features, self._min_n, self._max_n
        found: list[int] = []
        size = len(tokens)
        for start, node in enumerate(map(get, tokens)):
            if node is None:
                continue
            gram = tokens[start]
            n = 1
            while node is not None:
                if n >= min_n and node < n_features:
                    found.append(node)
                if n == max_n or start + n == size:
                    break
                gram = f"{gram} {tokens[start + n]}"
                node = get(gram)
                n += 1
        return found

    def _walk_batch(self, texts: Sequence[str]) -> tuple[IntArray, IntArray]:
        """All texts' term columns at once: the same walk, level by level, in numpy."""
        unknown = len(self._token_keys)
        # One flat array of token keys, each text followed by an "unknown" separator, so
        # no n-gram can run from one text into the next.
        docs, keys = _flatten([[*self._doc_keys(text), unknown] for text in texts])
        nodes = self._first[keys]
        starts = (nodes >= 0).nonzero()[0]
        nodes = nodes[starts]
        found_starts: list[IntArray] = []
        found_nodes: list[IntArray] = []
        for n in range(1, self._max_n + 1):
            if n > 1:
                nodes = self._children.get(nodes * self._n_keys + keys[starts + (n - 1)])
                alive = nodes >= 0
                starts, nodes = starts[alive], nodes[alive]
            if n >= self._min_n:
                if self._has_extra:  # prefix-only nodes are not columns
                    is_term = nodes < self.n_features
                    found_starts.append(starts[is_term])
                    found_nodes.append(nodes[is_term])
                else:
                    found_starts.append(starts)
                    found_nodes.append(nodes)
            if not starts.size or not self._has_children:
                break
        if not found_starts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return docs[np.concatenate(found_starts)], np.concatenate(found_nodes)


def _preprocessor_key(vectorizer: Any) -> object:
    """Vectorizers with equal keys preprocess text identically (computed once per text)."""
    if vectorizer.preprocessor is not None:
        return vectorizer.preprocessor
    return ("builtin", vectorizer.lowercase, vectorizer.strip_accents)


def uses_trie(vectorizer: Any) -> bool:
    """True when the word-trie block reproduces this word vectorizer exactly."""
    if vectorizer.analyzer != "word":
        return False
    if vectorizer.tokenizer is tokenise:
        return True
    return vectorizer.tokenizer is None and vectorizer.token_pattern == _DEFAULT_WORD_PATTERN


Block = _Block


def make_block(vectorizer: Any) -> Block:
    if uses_trie(vectorizer):
        return WordTrieBlock(vectorizer)
    if vectorizer.analyzer == "char_wb":
        return CharWbBlock(vectorizer)
    return AnalyzerBlock(vectorizer)
