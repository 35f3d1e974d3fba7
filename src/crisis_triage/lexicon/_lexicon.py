"""Load a lexicon file and apply it: one compiled matcher for terms, one for context cues."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisis_triage.lexicon._evidence import LexiconEvidence, build_evidence
from crisis_triage.lexicon._matcher import Matcher, max_words
from crisis_triage.lexicon._model import (
    CATEGORIES,
    ContextRule,
    LexiconEntry,
    LexiconError,
    LexiconHit,
)
from crisis_triage.lexicon._parse import check_unique, parse_document
from crisis_triage.lexicon._scan import (
    JOINED_HITS,
    PHRASE_END,
    ClauseEnds,
    CuesByStart,
    WordIndex,
)
from crisis_triage.lexicon._term_list import term_list_entries
from crisis_triage.text import fold_accents, normalise

DEFAULT_LEXICON_PATH = Path(__file__).with_name("default_lexicon.yaml")


@dataclass(frozen=True)
class Lexicon:
    """Crisis terms plus context rules, compiled into one matcher each."""

    version: str
    entries: tuple[LexiconEntry, ...]
    context_rules: tuple[ContextRule, ...] = ()
    sha256: str = ""
    _terms: Matcher = field(init=False, repr=False, compare=False)
    _cues: Matcher | None = field(init=False, repr=False, compare=False)
    _rule_rank: dict[str, int] = field(init=False, repr=False, compare=False)
    _reach: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.entries:
            raise LexiconError("the lexicon has no entries")
        check_unique([e.id for e in self.entries] + [r.id for r in self.context_rules])
        # Text is accent-folded before matching, so patterns are too ("jamás" = "jamas").
        terms = Matcher([fold_accents(e.pattern) for e in self.entries])
        object.__setattr__(self, "_terms", terms)
        cues = None
        if self.context_rules:
            patterns = [fold_accents(r.pattern) for r in self.context_rules]
            cues = Matcher(patterns, overlapping=True)
        object.__setattr__(self, "_cues", cues)
        object.__setattr__(self, "_rule_rank", {r.id: i for i, r in enumerate(self.context_rules)})
        # how many words from a hit a cue can start (window + longest cue); None: unbounded
        lengths = [max_words(r.pattern) for r in self.context_rules]
        reach = None
        if None not in lengths:
            windows = [r.window for r in self.context_rules]
            reach = max(windows, default=0) + max((n or 0 for n in lengths), default=0) + 2
        object.__setattr__(self, "_reach", reach)

    # Pickle (and skops) only the data; the compiled matchers are rebuilt on load.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "entries": self.entries,
            "context_rules": self.context_rules,
            "sha256": self.sha256,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    # -- construction -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Lexicon:
        """Read and validate a lexicon YAML file (the bundled one by default)."""
        path = Path(path) if path is not None else DEFAULT_LEXICON_PATH
        try:
            raw = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise LexiconError(f"cannot read lexicon file {path}: {reason}") from None
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise LexiconError(f"{path} is not valid YAML: {exc}") from None
        except UnicodeDecodeError:
            raise LexiconError(f"{path} is not UTF-8 text") from None
        return cls.from_mapping(document, sha256=hashlib.sha256(raw).hexdigest())

    @classmethod
    def from_mapping(cls, document: Any, *, sha256: str = "") -> Lexicon:
        """Validate an already-parsed lexicon document."""
        version, entries, rules = parse_document(document)
        if not sha256:
            sha256 = hashlib.sha256(yaml.safe_dump(document, sort_keys=True).encode()).hexdigest()
        return cls(version=version, entries=entries, context_rules=rules, sha256=sha256)

    @classmethod
    def from_terms(cls, terms: Iterable[str], *, version: str, category: str = "SI") -> Lexicon:
        """A plain term list with no context rules (for baselines such as the CMD-1 list)."""
        if category not in CATEGORIES:
            raise LexiconError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
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

    @classmethod
    def from_term_csv(
        cls, path: str | Path, *, category: str = "SI", whole_words: bool = True
    ) -> Lexicon:
        """A baseline lexicon from a published term list (see ``load_term_list``).

        Every term becomes one entry of ``category`` with no context rules; ``whole_words=False``
        also matches terms inside longer words.
        """
        found = term_list_entries(path, category=category, whole_words=whole_words)
        return cls(version=found.version, entries=found.entries, sha256=found.sha256)

    # -- matching -----------------------------------------------------------------------
    def match(self, text: str, *, normalised: bool = False) -> list[LexiconHit]:
        """Every hit in ``text``, including hits that context rules explain away.

        Offsets index into ``normalise(text)``: patterns run over its accent-folded copy, which
        has the same length, and ``term`` is the unfolded slice.
        """
        if not normalised:
            text = normalise(text)
        original, text = text, fold_accents(text)
        hits: list[LexiconHit] = []
        for m in self._terms.matches(text):
            entry = self.entries[Matcher.index(m)]
            term = original[m.start() : m.end()]
            hits.append(
                LexiconHit(entry.id, entry.category, term, m.start(), m.end(), lang=entry.lang)
            )
        if hits and self._cues is not None:
            clause_ends = ClauseEnds(text)
            clauses = [clause_ends.bounds(hit.start, hit.end) for hit in hits]
            words = WordIndex(text)
            regions = [self._cue_region(words, h, c) for h, c in zip(hits, clauses, strict=True)]
            cues = self._find_cues(text, regions)
            if cues:
                window = max(rule.window for rule in self.context_rules)
                nearby = CuesByStart(cues, self._rule_rank)
                hits = [
                    _apply_context(
                        hit,
                        clause,
                        nearby.near(words.around(hit, window)),
                        words,
                        _Neighbours(text, hits, index),
                    )
                    for index, (hit, clause) in enumerate(zip(hits, clauses, strict=True))
                ]
        return hits

    def _cue_region(
        self, words: WordIndex, hit: LexiconHit, clause: tuple[int, int]
    ) -> tuple[int, int]:
        """Where a cue that can affect ``hit`` may start: its clause, cut to the rules' reach.

        A cue must end within ``window`` words before the hit or start within ``window`` words
        after it, so only that stretch (plus the longest cue, in words) is scanned, and a long
        clause without punctuation is not scanned end to end. Found by bisection in the word
        index, so many hits cost little each. The bounds are generous (a word cut by the hit
        or the clause counts as none): ``_apply_context`` decides which cues count.
        """
        start, end = clause
        if self._reach is None:
            return start, end
        starts = words.starts
        before = bisect_left(starts, hit.start)
        if before - bisect_left(starts, start) > self._reach:
            start = starts[before - self._reach - 1]
        after = bisect_left(starts, hit.end)
        if bisect_left(starts, end) - after > self._reach:
            end = starts[after + self._reach] + 1
        return start, end

    def _find_cues(
        self, text: str, clauses: list[tuple[int, int]]
    ) -> list[tuple[int, int, ContextRule]]:
        """Every cue of every rule starting in the given spans (overlapping ones too)."""
        if self._cues is None:
            return []
        rules = self.context_rules
        found: list[tuple[int, int, ContextRule]] = []
        scanned_to = 0
        for start, stop in sorted(set(clauses)):
            start = max(start, scanned_to)
            if start >= stop:
                continue
            for m in self._cues.matches(text, start, stop):
                for index, cue_start, cue_end in self._cues.indices(m):
                    found.append((cue_start, cue_end, rules[index]))
            scanned_to = stop
        # In file order of the rules, so that the first rule listed wins when several suppress.
        found.sort(key=lambda cue: self._rule_rank[cue[2].id])
        return found

    def evidence(self, text: str, *, normalised: bool = False) -> LexiconEvidence:
        """What the lexicon found as model evidence: every hit with its entry, category,
        language, state (active or the effect that explained it away), annotations, and span
        and clause in the normalised text (``evidence.normalised``)."""
        if not normalised:
            text = normalise(text)
        return build_evidence(text, self.match(text, normalised=True))

    def active_hits(self, text: str, *, normalised: bool = False) -> list[LexiconHit]:
        return [h for h in self.match(text, normalised=normalised) if h.active]

    def categories(self, text: str, *, normalised: bool = False) -> tuple[str, ...]:
        found = {h.category for h in self.active_hits(text, normalised=normalised)}
        return tuple(c for c in CATEGORIES if c in found)

    # -- self-checks ----------------------------------------------------------------------
    def check_examples(self) -> list[str]:
        """Problems with the ``examples`` written into the file (empty: all examples hold).

        An entry's example must give an active hit of that entry; a context rule's example
        must give a hit that the rule suppresses or annotates.
        """
        problems: list[str] = []
        for entry in self.entries:
            for example in entry.examples:
                if not any(h.entry_id == entry.id for h in self.active_hits(example)):
                    problems.append(f"entry {entry.id!r}: no active hit in example {example!r}")
        for rule in self.context_rules:
            for example in rule.examples:
                hits = self.match(example)
                if not any(_affected_by(h, rule.id) for h in hits):
                    problems.append(f"context rule {rule.id!r}: no hit affected in {example!r}")
        return problems

    @property
    def example_count(self) -> int:
        return sum(len(e.examples) for e in self.entries) + sum(
            len(r.examples) for r in self.context_rules
        )


def _affected_by(hit: LexiconHit, rule_id: str) -> bool:
    return hit.suppressed_by == rule_id or any(rule == rule_id for rule, _ in hit.annotations)


@dataclass(frozen=True)
class _Neighbours:
    """The hits before ``hits[index]`` in ``text`` (hits never overlap and come in order)."""

    text: str
    hits: list[LexiconHit]
    index: int

    def denial_reaches(self, cue_end: int) -> bool:
        """Whether a denial ending at ``cue_end`` still covers the hit: no comma, colon or
        dash between them, and no other hit unless only "or"/"and" joins it to the next."""
        hit = self.hits[self.index]
        if PHRASE_END.search(self.text, cue_end, hit.start):
            return False
        later_start = hit.start
        for earlier in reversed(self.hits[: self.index]):
            if earlier.end <= cue_end:
                break
            if not JOINED_HITS.fullmatch(self.text, earlier.end, later_start):
                return False
            later_start = earlier.start
        return True


def _apply_context(
    hit: LexiconHit,
    clause: tuple[int, int],
    cues: list[tuple[int, int, ContextRule]],
    words: WordIndex,
    neighbours: _Neighbours,
) -> LexiconHit:
    """Suppress or annotate ``hit`` by the cues in its clause (the first suppressing rule wins)."""
    start, end = clause
    suppressor: ContextRule | None = None
    annotations: list[tuple[str, str]] = []
    for cue_start, cue_end, rule in cues:
        if cue_start < start or cue_end > end or rule.lang != hit.lang:
            continue
        if rule.applies_to and not (
            hit.category in rule.applies_to or hit.entry_id in rule.applies_to
        ):
            continue
        if not _within(words, rule, cue_start, cue_end, hit.start, hit.end):
            continue
        denial = rule.effect == "negation" and cue_end <= hit.start
        if denial and not neighbours.denial_reaches(cue_end):
            continue
        if rule.suppress:
            suppressor = suppressor or rule
        elif (rule.id, rule.effect) not in annotations:
            annotations.append((rule.id, rule.effect))
    if suppressor is None and not annotations:
        return hit
    return LexiconHit(
        hit.entry_id,
        hit.category,
        hit.term,
        hit.start,
        hit.end,
        suppressor.id if suppressor else None,
        suppressor.effect if suppressor else None,
        tuple(annotations),
        hit.lang,
    )


def _within(
    words: WordIndex, rule: ContextRule, cue_start: int, cue_end: int, hit_start: int, hit_end: int
) -> bool:
    if cue_end <= hit_start and rule.direction in ("before", "either"):
        return words.count(cue_end, hit_start) <= rule.window
    if cue_start >= hit_end and rule.direction in ("after", "either"):
        return words.count(hit_end, cue_start) <= rule.window
    return False
