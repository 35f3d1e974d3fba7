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
Patterns of the form ``\\w*ache`` (term-list stems matched inside words) are found through their
literal part and tried from the start of its word. A pattern whose start cannot be worked out at
all is tried at every word start: same matches, only slower.
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
# A match ends at a word boundary, and not inside a contraction ("it" is not a match in "it's").
_END = r"(?![\w]|'\w)"


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
        kinds = [_analyse(p) for p in patterns]

        def members(first: str) -> list[int]:
            return [
                i
                for i, (kind, heads) in enumerate(kinds)
                if kind != "prefix" or any(h[0] == first for h in heads)
            ]

        firsts = sorted({h[0] for kind, heads in kinds if kind == "prefix" for h in heads})
        self._by_first = {first: self._compile(patterns, members(first)) for first in firsts}
        anywhere = [i for i, (kind, _) in enumerate(kinds) if kind != "prefix"]
        self._other = self._compile(patterns, anywhere) if anywhere else None
        starts = sorted({h for kind, heads in kinds if kind == "prefix" for h in heads})
        inner = sorted({h for kind, heads in kinds if kind == "inner" for h in heads})
        self._starts: re.Pattern[str] | None = None
        self._inner: re.Pattern[str] | None = None
        if any(kind == "unknown" for kind, _ in kinds):
            self._starts = re.compile(r"(?<![\w])(?=\S)")
        else:
            if starts:
                self._starts = re.compile(r"(?<![\w])(?=" + _trie(starts) + ")")
            if inner:
                self._inner = re.compile("(?=" + _trie(inner) + ")")

    def _compile(self, patterns: Sequence[str], members: list[int]) -> re.Pattern[str]:
        if self.overlapping:
            body = "".join(f"(?:(?=(?P<g{i}>{patterns[i]}){_END}))?" for i in members)
            return re.compile(r"(?<![\w])" + body)
        body = "|".join(f"(?P<g{i}>{patterns[i]})" for i in members)
        return re.compile(r"(?<![\w])(?:" + body + ")" + _END)

    def _candidates(self, text: str, start: int, stop: int) -> Iterator[int]:
        """Word starts in ``text[start:stop]`` where some pattern may match, in order."""
        if self._inner is None:
            if self._starts is not None:
                yield from (m.start() for m in self._starts.finditer(text, start, stop))
            return
        found = set()
        if self._starts is not None:
            found = {m.start() for m in self._starts.finditer(text, start, stop)}
        for m in self._inner.finditer(text, start, stop):
            position = m.start()
            while position > start and (text[position - 1].isalnum() or text[position - 1] == "_"):
                position -= 1  # back to the start of the word (what \w* would have spanned)
            found.add(position)
        yield from sorted(found)

    def matches(
        self, text: str, start: int = 0, stop: int | None = None
    ) -> Iterator[re.Match[str]]:
        """Matches starting in ``text[start:stop]`` (a match may run past ``stop``)."""
        by_first, other, overlapping = self._by_first, self._other, self.overlapping
        end = 0
        for position in self._candidates(text, start, len(text) if stop is None else stop):
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


def _analyse(pattern: str) -> tuple[str, set[str]]:
    """How a pattern can start: ``("prefix", heads)`` (every match starts with one of ``heads``),
    ``("inner", heads)`` (``\\w*`` then a part starting with one of ``heads``) or unknown."""
    try:
        return "prefix", _prefixes(pattern)
    except _UnknownPrefixError:
        pass
    try:
        return "inner", _prefixes(pattern, after_word_prefix=True)
    except _UnknownPrefixError:
        return "unknown", set()


def max_words(pattern: str) -> int | None:
    """The most words (spaces + 1) a match of ``pattern`` can span; None: unbounded or unknown."""
    try:
        constants: Any = importlib.import_module("re._constants")
        parser: Any = importlib.import_module("re._parser")
        spaces = _spaces(list(parser.parse(pattern)), constants)
    except (ImportError, re.error, _UnknownPrefixError):  # pragma: no cover - other Pythons
        return None
    return None if spaces is None else spaces + 1


def _spaces(items: list[tuple[Any, Any]], c: Any) -> int | None:
    """The most whitespace characters the parsed sequence can consume (None: unbounded)."""
    total = 0
    for op, av in items:
        if op is c.LITERAL:
            count: int | None = int(chr(av).isspace())
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            count = 0
        elif op is c.IN:
            words = {(c.CATEGORY, c.CATEGORY_WORD), (c.CATEGORY, c.CATEGORY_DIGIT)}
            count = (
                0
                if all(
                    (kind is c.LITERAL and not chr(value).isspace())
                    or (
                        kind is c.RANGE
                        and not any(chr(x).isspace() for x in range(value[0], value[1] + 1))
                    )
                    or (kind, value) in words
                    for kind, value in av
                )
                else 1
            )
        elif op is c.BRANCH:
            options = [_spaces(list(branch), c) for branch in av[1]]
            count = None if None in options else max(o for o in options if o is not None)
        elif op is c.SUBPATTERN:
            count = _spaces(list(av[3]), c)
        elif op is c.ATOMIC_GROUP:
            count = _spaces(list(av), c)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            inner = _spaces(list(av[2]), c)
            count = 0 if inner == 0 else None if inner is None or av[1] >= 10_000 else inner * av[1]
        else:
            count = 1 if op in (c.NOT_LITERAL, c.ANY) else None
        if count is None:
            return None
        total += count
    return total


# -- prefix analysis over the parsed pattern --------------------------------------------------
def _prefixes(pattern: str, *, after_word_prefix: bool = False) -> set[str]:
    """The strings (up to PREFIX_LENGTH characters) that every match of ``pattern`` starts with.

    ``after_word_prefix``: the pattern must start with ``\\w*``; give the prefixes of the rest.
    """
    try:
        # CPython's own regex parser (private, hence the fallback): re.compile uses it too.
        constants: Any = importlib.import_module("re._constants")
        parser: Any = importlib.import_module("re._parser")
    except ImportError as exc:  # pragma: no cover - a future Python without these modules
        raise _UnknownPrefixError from exc
    try:
        items = list(parser.parse(pattern))
    except re.error as exc:  # pragma: no cover - patterns are validated before
        raise _UnknownPrefixError from exc
    if after_word_prefix:
        if not items or not _is_word_star(items[0], constants):
            raise _UnknownPrefixError
        items = items[1:]
    found = {s.rstrip(_OPEN) for s in _sequence(items, constants)}
    if not found or "" in found:
        raise _UnknownPrefixError
    return found


def _is_word_star(item: tuple[Any, Any], c: Any) -> bool:
    op, av = item
    if op not in (c.MAX_REPEAT, c.MIN_REPEAT) or av[0] != 0:
        return False
    body = list(av[2])
    return (
        len(body) == 1
        and body[0][0] is c.IN
        and list(body[0][1]) == [(c.CATEGORY, c.CATEGORY_WORD)]
    )


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
