"""The bundled default model on messages written here: crises it must flag, and messages it must
not flag (figures of speech, routine questions, informational questions).

These run against the committed model file, so a retrained default model is checked before it
ships.  Cases the current bundled model gets wrong are listed in KNOWN_GAPS and marked as
strict expected failures: a new miss fails the suite, and so does fixing a listed gap without
removing it from the list (the list stays the truth about the shipped model).  The lexicon's own
safety tests live with the lexicon.
"""

from __future__ import annotations

import pytest

from crisis_triage.detector import StackedDetector, load_model

MUST_FLAG = {
    "SI": [
        "I want to kill myself",
        "I don't want to be alive anymore",
        "I have been thinking about suicide every day this week",
        "I wish I could go to sleep and not wake up",
        "I have a plan to end my life on Friday",
        "everyone would be better off without me, I'm going to end it tonight",
    ],
    "SI slang": [
        "honestly i just want to kms",
        "thinking about unaliving myself",
        "i want to su1c1de",
    ],
    "HI": [
        "I have thoughts about killing my coworker and I'm scared I will do it",
        "I want to hurt my neighbour badly, I've been planning how",
    ],
    "NSSI": [
        "I cut myself again last night",
        "I've been burning my arms with a lighter to cope",
        "I relapsed and started self harming again",
    ],
    "DV": [
        "My husband hit me again and I'm scared to go home",
        "my boyfriend choked me last night and said he'd kill me if I leave",
    ],
    "OD": [
        "I took the whole bottle of my pills an hour ago",
        "I swallowed 30 of my sleeping pills on purpose",
    ],
    "third party": [
        "My 15 year old daughter told me she wants to kill herself",
    ],
}

MUST_NOT_FLAG = {
    "routine": [
        "Can I get a refill of my sertraline prescription?",
        "What time is my appointment on Thursday?",
        "Could you send me the invoice for last month's sessions?",
        "Is it okay to take ibuprofen with my blood pressure medication?",
        "Thank you, the session today really helped",
    ],
    "figurative": [
        "This traffic is killing me",
        "My boss is going to kill me if I'm late again",
        "I need to cut myself off from social media for a while",
    ],
    "informational": [
        "What are the warning signs of suicide in teenagers?",
        "Can you recommend a book about coping with anxiety?",
    ],
}


# What the bundled model (detector v2, trained by `crisis-triage train-default`) gets wrong.
KNOWN_GAPS: dict[str, str] = {
    "My boss is going to kill me if I'm late again": "v2 has no gate: a figurative 'kill me' "
    "still scores above its low threshold (0.0175, chosen for 95% sensitivity)",
}


@pytest.fixture(scope="module")
def bundled() -> StackedDetector:
    return load_model()


def _cases(groups: dict[str, list[str]]) -> list[object]:
    return [
        pytest.param(
            message,
            id=f"{group}:{message[:40]}",
            marks=[pytest.mark.xfail(strict=True, reason=f"known gap: {KNOWN_GAPS[message]}")]
            if message in KNOWN_GAPS
            else [],
        )
        for group, messages in groups.items()
        for message in messages
    ]


@pytest.mark.parametrize("message", _cases(MUST_FLAG))
def test_bundled_model_flags_crises(bundled: StackedDetector, message: str) -> None:
    (explanation,) = bundled.explain([message])
    assert explanation.flagged, f"missed (p={explanation.probability:.4f})"
    assert explanation.reasons(), "a flag must come with reasons"


@pytest.mark.parametrize("message", _cases(MUST_NOT_FLAG))
def test_bundled_model_does_not_flag_ordinary_messages(
    bundled: StackedDetector, message: str
) -> None:
    (explanation,) = bundled.explain([message])
    assert not explanation.flagged, f"false alarm (p={explanation.probability:.4f})"


def test_known_gaps_are_few_and_all_listed_cases_exist() -> None:
    listed = {m for groups in (MUST_FLAG, MUST_NOT_FLAG) for ms in groups.values() for m in ms}
    assert set(KNOWN_GAPS) <= listed
    assert len(KNOWN_GAPS) <= len(listed) // 5, "the bundled model fails too many safety cases"


def test_bundled_model_card_is_complete(bundled: StackedDetector) -> None:
    card = bundled.card_
    background = card["data"]["background"]
    sources = {s["source"]: s for s in background["sources"]}
    assert "legalbench_dv" not in sources or not sources["legalbench_dv"]["used"]
    assert background["excluded"].get("non-commercial licence", 0) > 0
    assert card["metrics_out_of_fold"]["full"]["sensitivity"]["ci95"]
    assert card["threshold"]["how"]
    assert card["lexicon"]["sha256"] == bundled.lexicon_.sha256
