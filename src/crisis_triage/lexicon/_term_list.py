"""Published crisis-term lists (CSV) as plain baseline lexicons, with no context rules.

Two layouts are read:

* one column per group, one term per cell, as in the CMD-1 list (Swaminathan et al. 2023): the
  header names the groups ("Suicidal Thoughts", "Suicide Methods", ...), empty cells are padding;
* one term per row in a ``token`` (or ``term``) column, as in the Bloom 2025 youth suicide
  lexicon, whose ``word_start`` / ``word_end`` columns say whether the term must start / end at a
  word boundary (blank: it may sit inside a longer word, e.g. the stem "kill mys").

Either file may start with a byte-order mark.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from crisis_triage.lexicon._model import CATEGORIES, LexiconEntry, LexiconError
from crisis_triage.text import normalise

_TOKEN_COLUMNS = ("token", "term")


@dataclass(frozen=True)
class Term:
    """One term of a published list; ``group`` is its column (or source) in the file."""

    text: str
    group: str
    word_start: bool = True
    word_end: bool = True


def load_term_list(path: str | Path) -> list[Term]:
    """Read a published term list CSV into terms, in file order (see the module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LexiconError(f"cannot read term list {path}: {reason}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LexiconError(f"term list {path} is not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise LexiconError(f"term list {path} is empty or has no header row")
    header = [cell.strip() for cell in rows[0]]
    lowered = [cell.lower() for cell in header]
    token_column = next((c for c in _TOKEN_COLUMNS if c in lowered), None)
    if token_column is not None:
        terms = _token_rows(rows[1:], lowered, lowered.index(token_column))
    else:
        terms = _column_rows(rows[1:], header)
    if not terms:
        raise LexiconError(f"term list {path} has no terms")
    return terms


@dataclass(frozen=True)
class TermListEntries:
    """A term list as lexicon entries, with the version and hash a ``Lexicon`` records."""

    version: str
    entries: tuple[LexiconEntry, ...]
    sha256: str


def term_list_entries(
    path: str | Path, *, category: str = "SI", whole_words: bool = True
) -> TermListEntries:
    """Every term of a list as one entry of ``category``, matched on normalised text.

    ``whole_words=False`` lets every term match inside longer words too (plain substring
    matching, as a keyword filter may have been run).
    """
    if category not in CATEGORIES:
        raise LexiconError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    path = Path(path)
    entries: list[LexiconEntry] = []
    seen: set[str] = set()
    for term in load_term_list(path):
        plain = normalise(term.text)
        pattern = ("" if term.word_start and whole_words else r"\w*") + re.escape(plain)
        pattern += "" if term.word_end and whole_words else r"\w*"
        if plain and pattern not in seen:
            seen.add(pattern)
            entries.append(
                LexiconEntry(
                    f"{_slug(path.stem)}-{len(entries)}",
                    pattern,
                    category,
                    f"{path.name}: {term.group}",
                )
            )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    version = f"{path.stem} ({len(entries)} terms{'' if whole_words else ', substrings'})"
    return TermListEntries(version=version, entries=tuple(entries), sha256=digest)


def _column_rows(rows: list[list[str]], header: list[str]) -> list[Term]:
    terms: list[Term] = []
    for row in rows:
        for group, cell in zip(header, row, strict=False):
            if cell.strip():
                terms.append(Term(cell.strip(), group or "terms"))
    return terms


def _token_rows(rows: list[list[str]], header: list[str], column: int) -> list[Term]:
    def flag(row: list[str], name: str) -> bool:
        if name not in header or header.index(name) >= len(row):
            return True  # no column: whole words
        return row[header.index(name)].strip().lower() in {"1", "true", "yes"}

    has_flags = "word_start" in header or "word_end" in header
    group_column = header.index("source") if "source" in header else None
    terms: list[Term] = []
    for row in rows:
        if column >= len(row) or not row[column].strip():
            continue
        group = (
            row[group_column].strip()
            if group_column is not None and group_column < len(row)
            else "terms"
        )
        terms.append(
            Term(
                row[column].strip(),
                group or "terms",
                word_start=flag(row, "word_start") if has_flags else True,
                word_end=flag(row, "word_end") if has_flags else True,
            )
        )
    return terms


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "term"
