"""Small synthetic labelled corpora for fast detector tests (written here, not taken from data).

Importable from every test because pytest puts ``tests/`` (home of conftest.py) on sys.path.
"""

from __future__ import annotations

import random
from typing import Any

from crisis_triage.detector import TwoStageDetector, make_detector
from crisis_triage.lexicon import Lexicon

POSITIVES = {
    "SI": [
        "i want to kill myself",
        "i keep thinking about suicide",
        "i feel suicidal and i have a plan",
        "i do not want to be alive anymore",
        "i am going to end my life this weekend",
    ],
    "NSSI": [
        "i cut myself again last night",
        "i have been cutting my arms to cope",
        "i burned myself on purpose",
    ],
    "DV": [
        "my husband hits me when he drinks",
        "my partner choked me and i am scared to go home",
        "he threatened to hurt me if i leave",
    ],
}
NEGATIVES = [
    "can i get a refill of my sertraline",
    "what time is my appointment on friday",
    "this traffic is killing me",
    "i feel tired after work most days",
    "how do i reset my password for the portal",
    "thanks for the session today it helped",
    "my essay on suicide prevention is due monday",
    "is it normal to feel anxious before exams",
    "i am not suicidal just stressed about money",
    "can we move my appointment to next week",
]
FILLERS = ["please", "today", "honestly", "again", "now", "ok", "really", "", "so"]
GATE_TERMS = ["kill myself", "suicide", "suicidal", "cut myself", "cutting", "hits me", "hurt me"]


def corpus(
    n: int = 240, *, positive_every: int = 4, seed: int = 0
) -> tuple[list[str], list[int], list[str | None]]:
    """Messages, labels and crisis types: one message in ``positive_every`` is a crisis."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    types: list[str | None] = []
    categories = sorted(POSITIVES)
    for i in range(n):
        if i % positive_every == 0:
            category = categories[(i // positive_every) % len(categories)]
            base = rng.choice(POSITIVES[category])
            labels.append(1)
            types.append(category)
        else:
            base = rng.choice(NEGATIVES)
            labels.append(0)
            types.append(None)
        texts.append(f"{rng.choice(FILLERS)} {base} {rng.choice(FILLERS)}".strip())
    return texts, labels, types


def gate_lexicon() -> Lexicon:
    """A plain term list for gate tests, independent of the bundled lexicon's content."""
    return Lexicon.from_terms(GATE_TERMS, version="test-gate")


def fast_detector(preset: str = "default", **overrides: Any) -> TwoStageDetector:
    """A detector configured to fit a few hundred messages in well under a second.

    The default preset is ungated here (unless a test asks for a gate), so stage-2 behaviour is
    tested on every message; cmd1 keeps its gate, on the test term list.
    """
    params: dict[str, Any] = {
        "gate": "none" if preset == "default" else "lexicon",
        "cv": 3,
        "Cs": (1.0, 10.0),
        "n_bootstrap": 20,
        "min_category_positives": 5,
        "lexicon": gate_lexicon(),
    }
    return make_detector(preset, **(params | overrides))
