"""What the detector says about one message, and the interface every scorer offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from crisis_triage.lexicon import LexiconHit

EVIDENCE_LABELS = {
    "ngrams": "word patterns",
    "static": "meaning (fast)",
    "semantic": "meaning (full encoder)",
}


GATE_NOTE = "no active lexicon hit: not scored by the model (lexicon gate)"
REASON_KINDS = ("lexicon", "phrase", "ngram", "sentence", "evidence", "note")


@dataclass(frozen=True)
class ReasonItem:
    """One reason as data; ``render()`` gives its one-line text (``Explanation.reasons``).

    - ``lexicon``: a matched term (``term``, ``category``, lexicon ``entry``); ``counts`` is
      False when a context rule explained it away, ``context`` the (effect, rule) pairs of the
      context rules around it, the one that explained it away first.
    - ``phrase`` (detector v2) / ``ngram`` (v1 and site-adapted): ``term`` pushed the log-odds
      by ``weight``.
    - ``sentence``: ``span`` is the (start, end) of the risk sentence in the message's characters.
    - ``evidence``: ``evidence`` is (label, log-odds) per kind of evidence, before weighing.
    - ``note``: anything else, as ``text``.

    Stored with the message (``messages.reason_items``) as ``to_dict()``: the case page reads
    these instead of taking the strings apart.
    """

    kind: str
    term: str | None = None
    category: str | None = None
    entry: str | None = None
    weight: float | None = None
    counts: bool = True
    context: tuple[tuple[str | None, str | None], ...] = ()
    span: tuple[int, int] | None = None
    evidence: tuple[tuple[str, float], ...] = ()
    text: str | None = None

    @classmethod
    def note(cls, text: str) -> ReasonItem:
        return cls("note", text=text)

    @classmethod
    def from_hit(cls, hit: LexiconHit) -> ReasonItem:
        context = [] if hit.active else [(hit.effect, hit.suppressed_by)]
        context += [(effect, rule) for rule, effect in hit.annotations]
        return cls(
            "lexicon",
            term=hit.term,
            category=hit.category,
            entry=hit.entry_id,
            counts=hit.active,
            context=tuple(context),
        )

    def context_text(self) -> str:
        """The context rules as the detector writes them: `` (effect: rule)`` for the rule that
        explained the hit away, then `` [effect: rule, ...]`` for those that describe it."""
        pairs = list(self.context)
        text = ""
        if not self.counts and pairs:
            effect, rule = pairs.pop(0)
            text += f" ({effect}: {rule})"
        if pairs:
            text += " [" + ", ".join(f"{effect}: {rule}" for effect, rule in pairs) + "]"
        return text

    def render(self) -> str:
        """The reason as one line of text (what the API, exports and the CLI show)."""
        if self.kind == "lexicon":
            return f"lexicon {self.category}:{self.entry} '{self.term}'{self.context_text()}"
        if self.kind in ("phrase", "ngram"):
            return f"{self.kind} '{self.term}' {self.weight or 0.0:+.2f}"
        if self.kind == "sentence" and self.span is not None:
            start, end = self.span
            return f"risk sentence: characters {start}-{end}"
        if self.kind == "evidence":
            return "evidence (log-odds before weighing): " + ", ".join(
                f"{label} {value:+.2f}" for label, value in self.evidence
            )
        return self.text or ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the fields this kind does not use."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "lexicon":
            out |= {"term": self.term, "category": self.category, "entry": self.entry}
            out |= {"counts": self.counts, "context": [list(pair) for pair in self.context]}
        elif self.kind in ("phrase", "ngram"):
            out |= {"term": self.term, "weight": self.weight}
        elif self.kind == "sentence":
            out["span"] = list(self.span) if self.span is not None else None
        elif self.kind == "evidence":
            out["evidence"] = [list(pair) for pair in self.evidence]
        else:
            out["text"] = self.text
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReasonItem:
        """The inverse of ``to_dict``; ValueError for anything that is not one."""
        kind = data.get("kind")
        if kind not in REASON_KINDS:
            raise ValueError("not a reason item")
        span = data.get("span")
        weight = data.get("weight")
        try:
            return cls(
                kind=cast(str, kind),
                term=_optional_str(data.get("term")),
                category=_optional_str(data.get("category")),
                entry=_optional_str(data.get("entry")),
                weight=None if weight is None else float(weight),
                counts=bool(data.get("counts", True)),
                context=tuple(
                    (_optional_str(effect), _optional_str(rule))
                    for effect, rule in data.get("context") or ()
                ),
                span=None if span is None else (int(span[0]), int(span[1])),
                evidence=tuple((str(k), float(v)) for k, v in data.get("evidence") or ()),
                text=_optional_str(data.get("text")),
            )
        except (TypeError, IndexError) as exc:
            raise ValueError("not a reason item") from exc


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Explanation:
    """The score of one message and the reasons behind it.

    ``top_ngrams`` are (n-gram, contribution to the log-odds) pairs, largest push first.
    ``gate_passed`` is False when a lexicon gate kept the message from the model (its
    probability is then the model's floor, not a model score).  ``notes`` are further reasons
    (a site-adapted model says there what its stacker added, and when it lowered a message the
    base model flags).
    """

    probability: float
    flagged: bool
    threshold: float
    categories: tuple[str, ...]
    lexicon_hits: tuple[LexiconHit, ...]
    top_ngrams: tuple[tuple[str, float], ...]
    gate_passed: bool = True
    notes: tuple[str, ...] = ()  # further reasons, e.g. what a site adaptation changed
    # Detector v2: the (start, end) of the sentence that carries the most risk, in the
    # message's own characters; which tier gave the score ("fast" or "full"); and each
    # kind of evidence's log-odds before the stacker weighed them.
    sentence: tuple[int, int] | None = None
    tier: str | None = None
    evidence: Mapping[str, float] = field(default_factory=dict)

    def reason_items(self) -> list[ReasonItem]:
        """The reasons as data (matched terms first, then phrases), one per line of
        ``reasons()``."""
        items = [ReasonItem.from_hit(hit) for hit in self.lexicon_hits]
        word = "phrase" if self.tier is not None else "ngram"
        items += [ReasonItem(word, term=g, weight=float(w)) for g, w in self.top_ngrams]
        if self.sentence is not None:
            start, end = self.sentence
            items.append(ReasonItem("sentence", span=(int(start), int(end))))
        if self.evidence:
            labelled = ((EVIDENCE_LABELS.get(k, k), float(v)) for k, v in self.evidence.items())
            items.append(ReasonItem("evidence", evidence=tuple(labelled)))
        if not self.gate_passed:
            items.append(ReasonItem.note(GATE_NOTE))
        return items + [ReasonItem.note(note) for note in self.notes]

    def reasons(self) -> list[str]:
        """Short, human-readable reasons: ``reason_items()`` rendered."""
        return [item.render() for item in self.reason_items()]


class Scorer(Protocol):
    """What the service, CLI and evaluation need from a fitted detector."""

    threshold_: float
    card_: dict[str, Any]

    def explain(self, texts: Sequence[str]) -> list[Explanation]: ...

    def predict_proba(self, texts: Sequence[str]) -> Any: ...
