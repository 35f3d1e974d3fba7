"""Is a model being evaluated on messages it was trained or tuned on?  Then say so.

The model card records what the model saw, in either of two forms (both may be present):

- ``card["training_text_hashes"]``: a sorted list of ``crisis_triage.text.text_hash(text)``
  (lowercase hex SHA-256 of ``normalise(text)``), one per text the model was fitted or tuned on.  An
  entry may be the whole digest (64 characters) or its first 16 characters (the compact form
  for large training sets); shorter entries are ignored.
- named files with their SHA-256: any ``{"file": NAME, "sha256": HEX}`` object in the card,
  e.g. ``card["data"]`` (the training file) or the entries of ``card["tuning_files"]`` (files
  read while tuning, such as development sets the lexicon was written against).  When the
  evaluated file's SHA-256 equals one of them, every message overlaps.

Figures from overlapping messages are not held-out estimates; reports label them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisis_triage.text import COMPACT_HASH_CHARACTERS, text_hash

TEXT_HASHES_KEY = "training_text_hashes"
TUNING_FILES_KEY = "tuning_files"
IN_SAMPLE_LABEL = "in-sample: these figures are not held-out"
_HEX = frozenset("0123456789abcdef")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_hex(value: object, lengths: Iterable[int]) -> bool:
    return isinstance(value, str) and len(value) in set(lengths) and set(value) <= _HEX


def _objects(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in the card, nested ones too (an adapted model's base card)."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _objects(value)


def card_files(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(file name, sha256) of every named file the card says the model was built from."""
    found = []
    for node in _objects(card):
        name, digest = node.get("file"), node.get("sha256")
        if isinstance(name, str) and _is_hex(digest, (64,)):
            found.append((name, str(digest)))
    return found


def card_text_hashes(card: Mapping[str, Any]) -> dict[int, frozenset[str]]:
    """The recorded text digests, grouped by length (full and compact)."""
    by_length: dict[int, set[str]] = {}
    for node in _objects(card):
        recorded = node.get(TEXT_HASHES_KEY)
        if not isinstance(recorded, list):
            continue
        for entry in recorded:
            if _is_hex(entry, range(COMPACT_HASH_CHARACTERS, 65)):
                by_length.setdefault(len(entry), set()).add(entry)
    return {length: frozenset(entries) for length, entries in by_length.items()}


@dataclass(frozen=True)
class InSample:
    """What the overlap check found; ``to_dict`` is the report's ``in_sample`` entry."""

    value: bool
    overlapping_messages: int
    n_messages: int
    # "file" (the evaluated file is a recorded one), "other file" (it is none of them),
    # "text hashes", or "not recorded" (the card says nothing)
    basis: str
    matched_files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        notes = {
            "file": "the evaluated file is one the model was trained or tuned on: "
            + ", ".join(self.matched_files),
            "other file": "the evaluated file is none of the files the model card names "
            "(compared by SHA-256; a changed copy of one would not be recognised)",
            "text hashes": "messages whose normalised text the model was trained or tuned on",
            "not recorded": "the model card records no hashes of its training data: "
            "overlap could not be checked",
        }
        return {
            "value": self.value,
            "overlapping_messages": self.overlapping_messages,
            "n_messages": self.n_messages,
            "basis": self.basis,
            "matched_files": list(self.matched_files),
            "label": IN_SAMPLE_LABEL if self.value else None,
            "note": notes[self.basis],
        }


def check_in_sample(
    card: Mapping[str, Any],
    texts: Sequence[str],
    *,
    data_sha256: str | None = None,
    n_messages: int | None = None,
) -> InSample:
    """Compare the evaluated ``texts`` (from a file with ``data_sha256``) with the card.

    ``n_messages`` counts the messages when ``texts`` are not at hand (only the file can
    match then)."""
    n = len(texts) if n_messages is None else n_messages
    files = card_files(card)
    matched = tuple(name for name, digest in files if data_sha256 and digest == data_sha256)
    if matched:
        return InSample(True, n, n, "file", matched)
    hashes = card_text_hashes(card)
    if hashes:
        overlap = 0
        for text in texts:
            digest = text_hash(text)
            overlap += any(digest[:length] in seen for length, seen in hashes.items())
        return InSample(overlap > 0, overlap, n, "text hashes")
    return InSample(False, 0, n, "other file" if files else "not recorded")


def in_sample_overlap(
    card: Mapping[str, Any], texts: Sequence[str], *, data_sha256: str | None = None
) -> int:
    """How many of ``texts`` the model was trained or tuned on, by its card."""
    return check_in_sample(card, texts, data_sha256=data_sha256).overlapping_messages


def combined(checks: Mapping[str, InSample]) -> dict[str, Any]:
    """One ``in_sample`` entry for several models on the same messages (any overlap counts)."""
    overlapping = max((c.overlapping_messages for c in checks.values()), default=0)
    value = any(c.value for c in checks.values())
    return {
        "value": value,
        "overlapping_messages": overlapping,
        "label": IN_SAMPLE_LABEL if value else None,
        "models": {name: check.to_dict() for name, check in checks.items()},
    }
