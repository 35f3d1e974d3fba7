"""Match many lexicon patterns at once, fast: a prefix scan, then one alternation per letter.

Python's ``re`` tries every alternative of an alternation at every position, so a plain
``(?:p0|p1|...)`` over fifty phrase patterns costs a quarter of a millisecond or more on a
300-character message. Most word starts cannot begin any crisis phrase, so a ``Matcher`` works
out, for each pattern, the few-character prefixes a match can start with (from the parsed
pattern), then

* scans the text with one regex made of all those prefixes (a character trie: ``re`` runs it at
  a few microseconds per message), and
* at each candidate word start runs the alternation of the patterns that can start with that
  character (compiled once per first character).

The alternatives keep their file order, so the first listed pattern still wins at a position and
matches never overlap, exactly as ``finditer`` over the plain alternation (a test checks this).
A pattern whose start cannot be worked out (e.g. ``\\w*foo``) is tried at every word start.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

PREFIX_LENGTH = 6
_MAX_PREFIXES = 2000
_BROAD_CLASS = 8  # a character class wider than this ends a prefix
_OPEN = "\x00"  # marks a prefix after which anything may follow


class _UnknownPrefixError(Exception):
    pass


class Matcher:
    """Patterns compiled for fast matching; ``matches`` yields one ``re.Match`` per hit.

    ``overlapping=False``: leftmost matches, the first listed pattern wins at a position (a normal
    alternation). ``overlapping=True``: an empty match at each word start where a pattern may
    match, with the group of every pattern that matches there set (context cues may overlap).
    ``index(match)`` / ``indices(match)`` give the pattern index or indices of a match.
    """

    def __init__(self, patterns: Sequence[str], *, overlapping: bool = False) -> None:
        self.overlapping = overlapping
        prefixes = [_prefixes_or_none(p) for p in patterns]
        firsts = sorted({s[0] for found in prefixes if found for s in found})
        self._by_first = {
            first: self._compile(
                patterns,
                [i for i, f in enumerate(prefixes) if f is None or first in {s[0] for s in f}],
            )
            for first in firsts
        }
        anywhere = [i for i, f in enumerate(prefixes) if f is None]
        self._other = self._compile(patterns, anywhere) if anywhere else None
        if anywhere:
            self.starts = re.compile(r"(?<![\w])(?=\S)")
        else:
            heads = sorted(set().union(*(f for f in prefixes if f)))
            self.starts = re.compile(r"(?<![\w])(?=" + _trie(heads) + ")")

    def _compile(self, patterns: Sequence[str], members: list[int]) -> re.Pattern[str]:
        if self.overlapping:
            body = "".join(f"(?:(?=(?P<g{i}>{patterns[i]})(?![\\w])))?" for i in members)
            return re.compile(r"(?<![\w])" + body)
        body = "|".join(f"(?P<g{i}>{patterns[i]})" for i in members)
        return re.compile(r"(?<![\w])(?:" + body + r")(?![\w])")

    def matches(
        self, text: str, start: int = 0, stop: int | None = None
    ) -> Iterator[re.Match[str]]:
        """Matches starting in ``text[start:stop]`` (a match may run past ``stop``)."""
        by_first, other, overlapping = self._by_first, self._other, self.overlapping
        end = 0
        candidates = self.starts.finditer(text, start, len(text) if stop is None else stop)
        for candidate in candidates:
            position = candidate.start()
            if position < end:
                continue
            regex = by_first.get(text[position], other)
            found = regex.match(text, position) if regex is not None else None
            if found is not None:
                yield found
                if not overlapping:
                    end = found.end()

    @staticmethod
    def index(match: re.Match[str]) -> int:
        """The pattern index of a (non-overlapping) match."""
        name = match.lastgroup
        if name is None:  # pragma: no cover - every alternative is a named group
            raise ValueError("not a match of a Matcher")
        return int(name[1:])

    @staticmethod
    def indices(match: re.Match[str]) -> Iterator[tuple[int, int, int]]:
        """``(pattern index, start, end)`` of every pattern matching in an overlapping match."""
        for name, number in match.re.groupindex.items():
            start, end = match.span(number)
            if start >= 0:
                yield int(name[1:]), start, end


def _trie(words: list[str]) -> str:
    """A regex matching any of ``words`` as a prefix, factored by first character."""
    if "" in words:
        return ""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    alternatives = [re.escape(first) + _trie(rest) for first, rest in sorted(groups.items())]
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def _prefixes_or_none(pattern: str) -> set[str] | None:
    try:
        return _prefixes(pattern)
    except _UnknownPrefixError:
        return None


# -- prefix analysis over the parsed pattern --------------------------------------------------
def _prefixes(pattern: str) -> set[str]:
    """The strings (up to PREFIX_LENGTH characters) that every match of ``pattern`` starts with."""
    try:
        # CPython's own regex parser (private, hence the fallback): re.compile uses it too.
        constants: Any = importlib.import_module("re._constants")
        parser: Any = importlib.import_module("re._parser")
    except ImportError as exc:  # pragma: no cover - a future Python without these modules
        raise _UnknownPrefixError from exc
    try:
        parsed = parser.parse(pattern)
    except re.error as exc:  # pragma: no cover - patterns are validated before
        raise _UnknownPrefixError from exc
    found = {s.rstrip(_OPEN) for s in _sequence(list(parsed), constants)}
    if not found or "" in found:
        raise _UnknownPrefixError
    return found


def _sequence(items: list[tuple[Any, Any]], c: Any) -> set[str]:
    results = {""}
    for op, av in items:
        todo = {r for r in results if len(r) < PREFIX_LENGTH and not r.endswith(_OPEN)}
        if not todo:
            break
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        options = _item(op, av, c)
        results = (results - todo) | {_extend(r, o) for r in todo for o in options}
        if len(results) > _MAX_PREFIXES:
            raise _UnknownPrefixError
    return results


def _extend(head: str, tail: str) -> str:
    if head.endswith(_OPEN) or len(head) >= PREFIX_LENGTH:
        return head
    return (head + tail)[:PREFIX_LENGTH]


def _item(op: Any, av: Any, c: Any) -> set[str]:
    if op is c.LITERAL:
        return {chr(av)}
    if op is c.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is c.LITERAL:
                chars.add(chr(value))
            elif kind is c.RANGE and value[1] - value[0] < 128:
                chars.update(chr(x) for x in range(value[0], value[1] + 1))
            elif kind is c.CATEGORY and value is c.CATEGORY_DIGIT:
                chars.update("0123456789")
            else:
                return {_OPEN}  # a category such as \w or a negated set: anything may follow
        if len(chars) > _BROAD_CLASS:
            return {ch + _OPEN for ch in chars}
        return chars
    if op is c.BRANCH:
        return set().union(*(_sequence(list(branch), c) for branch in av[1]))
    if op is c.SUBPATTERN:
        if av[1] or av[2]:
            raise _UnknownPrefixError  # inline flags such as (?i:...)
        return _sequence(list(av[3]), c)
    if op is c.ATOMIC_GROUP:
        return _sequence(list(av), c)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, item = av
        one = _sequence(list(item), c)
        out = {""} if low == 0 else set()
        current = {""}
        for count in range(1, min(high, max(low, PREFIX_LENGTH)) + 1):
            current = {_extend(a, b) for a in current for b in one}
            if count >= low:
                out |= current
        return out
    return {_OPEN}
