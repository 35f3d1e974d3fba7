"""Validate a lexicon document (already parsed from YAML) into entries and context rules.

Every problem raises ``LexiconError`` with a message naming the entry or rule and the fix, so
that a site editing its own copy of the lexicon gets a clear answer from ``lexicon validate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crisis_triage.lexicon._model import (
    CATEGORIES,
    CONTEXT_EFFECTS,
    LANGUAGES,
    SUPPRESSES_BY_DEFAULT,
    ContextRule,
    LexiconEntry,
    LexiconError,
)

DIRECTIONS = ("before", "after", "either")
TOP_LEVEL_KEYS = frozenset({"version", "description", "macros", "entries", "context_rules"})
ENTRY_KEYS = frozenset({"id", "pattern", "category", "rationale", "examples", "lang"})
RULE_KEYS = frozenset(
    {"id", "pattern", "effect", "direction", "window", "applies_to", "suppress", "rationale",
     "examples", "lang"}
)  # fmt: skip
MAX_WINDOW = 30
_MACRO_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MACRO_REF = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}")


def parse_document(
    document: Any,
) -> tuple[str, tuple[LexiconEntry, ...], tuple[ContextRule, ...]]:
    """Return ``(version, entries, context rules)`` or raise ``LexiconError``."""
    if not isinstance(document, Mapping):
        raise LexiconError("a lexicon file must be a mapping with 'version' and 'entries'")
    unknown = set(document) - TOP_LEVEL_KEYS
    if unknown:
        raise LexiconError(
            f"unknown top-level keys {sorted(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(TOP_LEVEL_KEYS))}"
        )
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise LexiconError("the lexicon needs a non-empty string 'version'")
    macros = parse_macros(document.get("macros"))
    raw_entries = _sequence(document.get("entries"), "entries")
    raw_rules = _sequence(document.get("context_rules"), "context_rules")
    entries = tuple(_parse_entry(i, e, macros) for i, e in enumerate(raw_entries))
    rules = tuple(_parse_rule(i, r, macros) for i, r in enumerate(raw_rules))
    if not entries:
        raise LexiconError("the lexicon has no entries")
    check_unique([e.id for e in entries] + [r.id for r in rules])
    known = set(CATEGORIES) | {e.id for e in entries}
    for rule in rules:
        bad = [c for c in rule.applies_to if c not in known]
        if bad:
            raise LexiconError(
                f"context rule {rule.id!r}: applies_to has unknown categories {bad} "
                "(nor are they entry ids)"
            )
    return version.strip(), entries, rules


def parse_macros(raw: Any) -> dict[str, str]:
    """Named sub-patterns, referenced as ``{{name}}`` in patterns and in other macros."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise LexiconError("'macros' must be a mapping of name: pattern")
    written: dict[str, str] = {}
    for name, pattern in raw.items():
        where = f"macro {name!r}"
        if not isinstance(name, str) or not _MACRO_NAME.match(name):
            raise LexiconError(f"{where}: names are lower case letters, digits and _")
        if not isinstance(pattern, str) or not pattern.strip():
            raise LexiconError(f"{where}: the pattern must be a non-empty string")
        written[name] = pattern.strip()
    expanded: dict[str, str] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> str:
        if name in expanded:
            return expanded[name]
        if name in chain:
            raise LexiconError(f"macro {name!r} refers to itself ({' -> '.join((*chain, name))})")
        where = f"macro {name!r}"

        def substitute(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner not in written:
                known = ", ".join(sorted(written))
                raise LexiconError(f"{where}: unknown macro {{{{{inner}}}}} (known: {known})")
            return f"(?:{resolve(inner, (*chain, name))})"

        pattern = _MACRO_REF.sub(substitute, written[name])
        check_pattern(pattern, where)
        expanded[name] = pattern
        return pattern

    for name in written:
        resolve(name, ())
    return expanded


def expand(pattern: str, macros: Mapping[str, str], where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            known = ", ".join(sorted(macros)) or "none defined"
            raise LexiconError(f"{where}: unknown macro {{{{{name}}}}} (known: {known})")
        return f"(?:{macros[name]})"

    return _MACRO_REF.sub(substitute, pattern)


def check_pattern(pattern: str, where: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise LexiconError(f"{where}: pattern {pattern!r} is not a valid regex: {exc}") from None
    if compiled.groups:
        raise LexiconError(f"{where}: use (?:...) instead of capturing groups in {pattern!r}")
    if compiled.match(""):
        raise LexiconError(f"{where}: pattern {pattern!r} matches the empty string")


def check_unique(ids: list[str]) -> None:
    seen: set[str] = set()
    for identifier in ids:
        if identifier in seen:
            raise LexiconError(f"duplicate lexicon id {identifier!r}")
        seen.add(identifier)


def _sequence(raw: Any, key: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise LexiconError(f"'{key}' must be a list")
    return raw


def _require(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LexiconError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _examples(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = raw.get("examples", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{where}: 'examples' must be a list of non-empty strings")
    return tuple(value)


def _unknown_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        keys = sorted(map(str, unknown))
        raise LexiconError(f"{where}: unknown keys {keys}; allowed: {', '.join(sorted(allowed))}")


def _pattern(raw: Mapping[str, Any], macros: Mapping[str, str], where: str) -> str:
    pattern = expand(_require(raw, "pattern", where), macros, where)
    check_pattern(pattern, where)
    return pattern


def _source(raw: Mapping[str, Any], expanded: str) -> str:
    written = str(raw["pattern"]).strip()
    return "" if written == expanded else written


def _lang(raw: Mapping[str, Any], where: str) -> str:
    lang = raw.get("lang", "en")
    if lang not in LANGUAGES:
        raise LexiconError(f"{where}: lang {lang!r} is not one of {', '.join(LANGUAGES)}")
    return str(lang)


def _parse_entry(index: int, raw: Any, macros: Mapping[str, str]) -> LexiconEntry:
    where = f"entries[{index}]"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: each entry must be a mapping")
    identifier = _require(raw, "id", where)
    where = f"entry {identifier!r}"
    _unknown_keys(raw, ENTRY_KEYS, where)
    pattern = _pattern(raw, macros, where)
    category = _require(raw, "category", where)
    if category not in CATEGORIES:
        raise LexiconError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    rationale = _require(raw, "rationale", where)
    return LexiconEntry(
        identifier,
        pattern,
        category,
        rationale,
        _examples(raw, where),
        _source(raw, pattern),
        _lang(raw, where),
    )


def _parse_rule(index: int, raw: Any, macros: Mapping[str, str]) -> ContextRule:
    where = f"context_rules[{index}]"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: each context rule must be a mapping")
    identifier = _require(raw, "id", where)
    where = f"context rule {identifier!r}"
    _unknown_keys(raw, RULE_KEYS, where)
    pattern = _pattern(raw, macros, where)
    effect = _require(raw, "effect", where)
    if effect not in CONTEXT_EFFECTS:
        raise LexiconError(f"{where}: effect {effect!r} is not one of {', '.join(CONTEXT_EFFECTS)}")
    direction = raw.get("direction", "before")
    if direction not in DIRECTIONS:
        raise LexiconError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}")
    window = raw.get("window", 4)
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= MAX_WINDOW:
        raise LexiconError(f"{where}: window must be a whole number of tokens from 0 to 30")
    applies_to = raw.get("applies_to") or []
    if isinstance(applies_to, str) or not isinstance(applies_to, list):
        raise LexiconError(f"{where}: applies_to must be a list of categories")
    if not all(isinstance(c, str) for c in applies_to):
        raise LexiconError(f"{where}: applies_to must be a list of categories or entry ids")
    suppress = raw.get("suppress", SUPPRESSES_BY_DEFAULT[effect])
    if not isinstance(suppress, bool):
        raise LexiconError(f"{where}: suppress must be true or false")
    return ContextRule(
        id=identifier,
        pattern=pattern,
        effect=effect,
        direction=direction,
        window=window,
        rationale=_require(raw, "rationale", where),
        applies_to=tuple(applies_to),
        suppress=suppress,
        examples=_examples(raw, where),
        source_pattern=_source(raw, pattern),
        lang=_lang(raw, where),
    )
