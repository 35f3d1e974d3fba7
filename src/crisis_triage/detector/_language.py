"""Which languages a model covers, and the rule for a message written in another one.

A message reliably identified as a language the model does not cover is not scored at all:
a model trained on English gives a French crisis a low score, which would bury it.  It goes
to a person instead.  A text whose language is undetermined (short, mixed, unclear) is scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisis_triage.text import LanguageGuess, detect_language

# What a model that does not say (``languages_``) was trained on: every model before v2.
DEFAULT_LANGUAGES = ("en",)


def model_languages(model: Any) -> tuple[str, ...]:
    """The ISO 639-1 codes a model covers (its ``languages_``; ``("en",)`` when it has none)."""
    languages = getattr(model, "languages_", None)
    if not languages or isinstance(languages, str):
        return DEFAULT_LANGUAGES
    return tuple(str(code) for code in languages)


def unsupported_language_reason(code: str) -> str:
    return f"language not supported (detected: {code}): review by a person"


@dataclass(frozen=True)
class LanguageCheck:
    guess: LanguageGuess
    supported: bool

    @property
    def code(self) -> str:
        return self.guess.code


def check_language(text: str, languages: Sequence[str]) -> LanguageCheck:
    """The language of ``text`` and whether a model covering ``languages`` may score it."""
    guess = detect_language(text)
    return LanguageCheck(guess, supported=not guess.reliable or guess.code in languages)
