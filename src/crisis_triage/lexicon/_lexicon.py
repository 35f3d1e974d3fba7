"""Load, validate and apply a lexicon file."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisis_triage.lexicon._model import (
    CATEGORIES,
    CONTEXT_EFFECTS,
    ContextRule,
    LexiconEntry,
    LexiconError,
    LexiconHit,
)
from crisis_triage.text import normalise

DEFAULT_LEXICON_PATH = Path(__file__).with_name("default_lexicon.yaml")
_DIRECTIONS = ("before", "after", "either")
_SENTENCE_END = re.compile(r"[.!?;\n]+|\bbut\b")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Lexicon:
    """Crisis terms plus context rules, compiled into one matcher each."""

    version: str
    entries: tuple[LexiconEntry, ...]
    context_rules: tuple[ContextRule, ...] = ()
    sha256: str = ""
    _terms: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _cues: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.entries:
            raise LexiconError("the lexicon has no entries")
        object.__setattr__(self, "_terms", _compile(e.pattern for e in self.entries))
        cues = _compile(r.pattern for r in self.context_rules) if self.context_rules else None
        object.__setattr__(self, "_cues", cues)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Lexicon:
        """Read and validate a lexicon YAML file (the bundled one by default)."""
        path = Path(path) if path is not None else DEFAULT_LEXICON_PATH
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LexiconError(f"cannot read lexicon file {path}: {exc.strerror}") from None
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise LexiconError(f"{path} is not valid YAML: {exc}") from None
        return cls.from_mapping(document, sha256=hashlib.sha256(raw).hexdigest())

    @classmethod
    def from_mapping(cls, document: Any, *, sha256: str = "") -> Lexicon:
        if not isinstance(document, Mapping):
            raise LexiconError("a lexicon file must be a mapping with 'version' and 'entries'")
        version = document.get("version")
        if not isinstance(version, str) or not version:
            raise LexiconError("the lexicon needs a non-empty string 'version'")
        entries = tuple(_parse_entry(i, e) for i, e in enumerate(document.get("entries") or []))
        rules = tuple(_parse_rule(i, r) for i, r in enumerate(document.get("context_rules") or []))
        _check_unique([e.id for e in entries] + [r.id for r in rules])
        if not sha256:
            sha256 = hashlib.sha256(yaml.safe_dump(document, sort_keys=True).encode()).hexdigest()
        return cls(version=version, entries=entries, context_rules=rules, sha256=sha256)

    @classmethod
    def from_terms(cls, terms: Iterable[str], *, version: str, category: str = "SI") -> Lexicon:
        """A plain term list with no context rules (for baselines such as the CMD-1 list)."""
        entries: list[LexiconEntry] = []
        seen: set[str] = set()
        for term in terms:
            plain = normalise(term)
            if plain and plain not in seen:
                seen.add(plain)
                entries.append(
                    LexiconEntry(f"term-{len(entries)}", re.escape(plain), category, "term list")
                )
        digest = hashlib.sha256("\n".join(sorted(seen)).encode()).hexdigest()
        return cls(version=version, entries=tuple(entries), sha256=digest)

    # -- matching -----------------------------------------------------------------------
    def match(self, text: str, *, normalised: bool = False) -> list[LexiconHit]:
        """Every hit in ``text``, including hits that context rules explain away."""
        if not normalised:
            text = normalise(text)
        hits: list[LexiconHit] = []
        for m in self._terms.finditer(text):
            group = m.lastgroup
            if group is None:  # pragma: no cover - every alternative is a named group
                continue
            entry = self.entries[int(group[1:])]
            hits.append(LexiconHit(entry.id, entry.category, m.group(), m.start(), m.end()))
        if hits and self._cues is not None:
            hits = [self._apply_context(text, hit, self._cues) for hit in hits]
        return hits

    def active_hits(self, text: str, *, normalised: bool = False) -> list[LexiconHit]:
        return [h for h in self.match(text, normalised=normalised) if h.active]

    def categories(self, text: str, *, normalised: bool = False) -> tuple[str, ...]:
        found = {h.category for h in self.active_hits(text, normalised=normalised)}
        return tuple(c for c in CATEGORIES if c in found)

    def _apply_context(self, text: str, hit: LexiconHit, cues: re.Pattern[str]) -> LexiconHit:
        start, end = _sentence_bounds(text, hit.start, hit.end)
        for cue in cues.finditer(text, start, end):
            group = cue.lastgroup
            if group is None:  # pragma: no cover
                continue
            rule = self.context_rules[int(group[1:])]
            if rule.applies_to and hit.category not in rule.applies_to:
                continue
            if _within(text, rule, cue.start(), cue.end(), hit.start, hit.end):
                return LexiconHit(
                    hit.entry_id, hit.category, hit.term, hit.start, hit.end, rule.id, rule.effect
                )
        return hit


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    alternatives = [f"(?P<g{i}>{p})" for i, p in enumerate(patterns)]
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])")


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        left = m.end()
    right_match = _SENTENCE_END.search(text, end)
    return left, right_match.start() if right_match else len(text)


def _within(
    text: str, rule: ContextRule, cue_start: int, cue_end: int, hit_start: int, hit_end: int
) -> bool:
    if cue_end <= hit_start and rule.direction in ("before", "either"):
        return len(_WORD.findall(text, cue_end, hit_start)) <= rule.window
    if cue_start >= hit_end and rule.direction in ("after", "either"):
        return len(_WORD.findall(text, hit_end, cue_start)) <= rule.window
    return False


def _check_unique(ids: list[str]) -> None:
    seen: set[str] = set()
    for identifier in ids:
        if identifier in seen:
            raise LexiconError(f"duplicate lexicon id {identifier!r}")
        seen.add(identifier)


def _require(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LexiconError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _check_pattern(pattern: str, where: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise LexiconError(f"{where}: pattern {pattern!r} is not a valid regex: {exc}") from None
    if compiled.groups:
        raise LexiconError(f"{where}: use (?:...) instead of capturing groups in {pattern!r}")
    if compiled.match(""):
        raise LexiconError(f"{where}: pattern {pattern!r} matches the empty string")


def _parse_entry(index: int, raw: Any) -> LexiconEntry:
    where = f"entries[{index}]"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: each entry must be a mapping")
    identifier = _require(raw, "id", where)
    where = f"entry {identifier!r}"
    pattern = _require(raw, "pattern", where)
    _check_pattern(pattern, where)
    category = _require(raw, "category", where)
    if category not in CATEGORIES:
        raise LexiconError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    unknown = set(raw) - {"id", "pattern", "category", "rationale", "examples"}
    if unknown:
        raise LexiconError(f"{where}: unknown keys {sorted(unknown)}")
    return LexiconEntry(identifier, pattern, category, _require(raw, "rationale", where))


def _parse_rule(index: int, raw: Any) -> ContextRule:
    where = f"context_rules[{index}]"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: each context rule must be a mapping")
    identifier = _require(raw, "id", where)
    where = f"context rule {identifier!r}"
    pattern = _require(raw, "pattern", where)
    _check_pattern(pattern, where)
    effect = _require(raw, "effect", where)
    if effect not in CONTEXT_EFFECTS:
        raise LexiconError(f"{where}: effect {effect!r} is not one of {', '.join(CONTEXT_EFFECTS)}")
    direction = raw.get("direction", "before")
    if direction not in _DIRECTIONS:
        raise LexiconError(f"{where}: direction must be one of {', '.join(_DIRECTIONS)}")
    window = raw.get("window", 4)
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= 30:
        raise LexiconError(f"{where}: window must be a whole number of tokens from 0 to 30")
    applies_to = tuple(raw.get("applies_to") or ())
    bad = [c for c in applies_to if c not in CATEGORIES]
    if bad:
        raise LexiconError(f"{where}: applies_to has unknown categories {bad}")
    unknown = set(raw) - {"id", "pattern", "effect", "direction", "window", "applies_to",
                          "rationale", "examples"}  # fmt: skip
    if unknown:
        raise LexiconError(f"{where}: unknown keys {sorted(unknown)}")
    rationale = _require(raw, "rationale", where)
    return ContextRule(identifier, pattern, effect, direction, window, rationale, applies_to)
